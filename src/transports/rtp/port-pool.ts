/**
 * UDP ports for RTP, one per call, from a configured range. RTP takes even
 * ports (the odd one above is RTCP's by convention). A port is handed out
 * with its socket already bound, so nothing else can take it in between;
 * ports another program holds are skipped. Allocation goes round the range
 * rather than reusing the port just released, so a late packet of an ended
 * call does not land in a new one.
 */
import { createSocket, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import { PalabreError } from '../../errors.js';

export interface PortPoolOptions {
  /** Address the sockets bind to. */
  host: string;
  /** Range, inclusive; only its even ports are used. */
  min: number;
  max: number;
}

/** One bound RTP socket; release() closes it and returns the port (idempotent). */
export interface PortLease {
  readonly port: number;
  readonly host: string;
  readonly socket: Socket;
  release(): void;
}

export class PortsExhaustedError extends PalabreError {
  constructor(message: string) {
    super('engine_unavailable', message);
  }
}

export class PortPool {
  readonly host: string;
  readonly min: number;
  readonly max: number;
  private readonly inUse = new Set<number>();
  private cursor: number;

  constructor(options: PortPoolOptions) {
    const min = options.min % 2 === 0 ? options.min : options.min + 1;
    if (!Number.isInteger(options.min) || !Number.isInteger(options.max) || options.min < 1 || options.max > 65535 || min > options.max) {
      throw new PalabreError('config_invalid', `RTP port range ${options.min}–${options.max} holds no even port between 2 and 65534`);
    }
    this.host = options.host;
    this.min = min;
    this.max = options.max;
    this.cursor = min;
  }

  /** Even ports in the range. */
  get capacity(): number {
    return Math.floor((this.max - this.min) / 2) + 1;
  }

  get used(): number {
    return this.inUse.size;
  }

  /** Binds the next free even port. Throws PortsExhaustedError, naming the range, when none is left. */
  async allocate(): Promise<PortLease> {
    const tried: string[] = [];
    for (let i = 0; i < this.capacity; i++) {
      const port = this.cursor;
      this.cursor = port + 2 > this.max ? this.min : port + 2;
      if (this.inUse.has(port)) continue;
      this.inUse.add(port);
      try {
        const socket = await bind(this.host, port);
        return this.lease(port, socket);
      } catch (err) {
        this.inUse.delete(port);
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'EADDRINUSE' && code !== 'EACCES') throw new PalabreError('internal', `cannot bind RTP port ${this.host}:${port}: ${(err as Error).message}`, { cause: err });
        if (tried.length < 3) tried.push(`${port} (${code})`);
      }
    }
    const busy = tried.length > 0 ? `; some held by other programs: ${tried.join(', ')}` : '';
    throw new PortsExhaustedError(
      `no free RTP port in ${this.min}–${this.max}: palabre's calls hold ${this.inUse.size} of the ${this.capacity} even ports${busy}. Widen ari.rtpPortMin/rtpPortMax or lower ari.maxCalls.`,
    );
  }

  private lease(port: number, socket: Socket): PortLease {
    let released = false;
    return {
      port,
      host: this.host,
      socket,
      release: () => {
        if (released) return;
        released = true;
        this.inUse.delete(port);
        try {
          socket.close();
        } catch {
          // Already closed by an error: the port is free either way.
        }
      },
    };
  }
}

function bind(host: string, port: number): Promise<Socket> {
  const socket = createSocket({ type: isIPv6(host) ? 'udp6' : 'udp4', reuseAddr: false });
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => {
      try {
        socket.close();
      } catch {
        // A socket that never bound may already count as closed.
      }
      reject(err);
    };
    socket.once('error', onError);
    socket.bind({ port, address: host, exclusive: true }, () => {
      socket.off('error', onError);
      resolve(socket);
    });
  });
}
