/**
 * PGlite in a worker thread, behind a Kysely dialect. PGlite runs PostgreSQL
 * compiled to WebAssembly: in the main thread every batch would hold the
 * event loop for tens of milliseconds (the store benchmark measured the
 * 20 ms audio loop going 70 ms late), so the database runs beside it and the
 * main thread only posts SQL and parameters.
 *
 * The worker's code is a short plain-JavaScript string evaluated by Node, so
 * it runs the same from dist/, under tsx and under the test runner (none of
 * which can hand a .ts file to a worker); it loads PGlite's CommonJS build
 * from the path resolved here.
 *
 * One connection: queries and transactions take turns (PGlite has a single
 * backend), in the order they asked.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import {
  CompiledQuery,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  type Kysely,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  type QueryResult,
} from 'kysely';

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { PGlite } = require(workerData.pglitePath);
// bigint ids and counts as numbers, as the PostgreSQL side does (db.ts).
const opening = PGlite.create(workerData.dataDir, { parsers: { 20: (v) => Number(v) } });
const fail = (id, err) => parentPort.postMessage({ id, error: { message: String(err && err.message || err), code: err && err.code, detail: err && err.detail, severity: err && err.severity } });
let chain = Promise.resolve();
parentPort.on('message', (m) => {
  chain = chain.then(async () => {
    let db;
    try {
      db = await opening;
    } catch (err) {
      return fail(m.id, err);
    }
    try {
      if (m.close) {
        await db.close();
        return parentPort.postMessage({ id: m.id, rows: [] });
      }
      const r = await db.query(m.sql, m.params);
      parentPort.postMessage({ id: m.id, rows: r.rows, affectedRows: r.affectedRows });
    } catch (err) {
      fail(m.id, err);
    }
  });
});
opening.then(() => parentPort.postMessage({ ready: true }), (err) => parentPort.postMessage({ ready: false, error: { message: String(err && err.message || err) } }));
`;

interface Reply {
  id?: number;
  ready?: boolean;
  rows?: unknown[];
  affectedRows?: number;
  error?: { message: string; code?: string; detail?: string; severity?: string };
}

/** An error from the database, with its SQLSTATE `code` as node-postgres gives it, so the queue can tell a refused write from a lost database. */
class DatabaseError extends Error {
  code?: string;
  detail?: string;
  constructor(e: NonNullable<Reply['error']>) {
    super(e.message);
    this.name = 'DatabaseError';
    if (e.code) this.code = e.code;
    if (e.detail) this.detail = e.detail;
  }
}

export class PgliteWorker {
  private readonly worker: Worker;
  private readonly pending = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void }>();
  private nextId = 1;
  private dead: Error | undefined;
  readonly ready: Promise<void>;

  constructor(dataDir: string) {
    const pglitePath = createRequire(import.meta.url).resolve('@electric-sql/pglite');
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { pglitePath, dataDir } });
    this.ready = new Promise((resolve, reject) => {
      const onReady = (m: Reply) => {
        if (m.ready === undefined) return;
        this.worker.off('message', onReady);
        if (m.ready) resolve();
        else reject(new Error(m.error?.message ?? 'PGlite failed to open'));
      };
      this.worker.on('message', onReady);
      this.worker.once('exit', (code) => reject(new Error(`the PGlite worker exited with code ${code} before opening`)));
    });
    // The worker keeps the process alive only while it has work: a store left open never holds up the exit.
    this.ready.then(() => this.idle(), () => undefined);
    this.worker.on('message', (m: Reply) => {
      if (m.id === undefined) return;
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      this.idle();
      if (m.error) p.reject(new DatabaseError(m.error));
      else p.resolve(m);
    });
    const die = (err: Error) => {
      this.dead ??= err;
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    };
    this.worker.on('error', (err) => die(err));
    this.worker.on('exit', (code) => die(new Error(`the PGlite worker stopped (exit code ${code})`)));
  }

  query(sql: string, params: readonly unknown[]): Promise<Reply> {
    if (this.dead) return Promise.reject(this.dead);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.ref();
      this.worker.postMessage({ id, sql, params });
    });
  }

  private idle(): void {
    if (this.pending.size === 0) this.worker.unref();
  }

  async close(): Promise<void> {
    if (!this.dead) {
      const id = this.nextId++;
      await new Promise<void>((resolve) => {
        this.pending.set(id, { resolve: () => resolve(), reject: () => resolve() });
        this.worker.ref();
        this.worker.postMessage({ id, close: true });
      });
    }
    await this.worker.terminate();
  }
}

/** Waits its turn for the single connection. */
class Turns {
  private tail: Promise<void> = Promise.resolve();
  take(): Promise<() => void> {
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    const before = this.tail;
    this.tail = before.then(() => mine);
    return before.then(() => release);
  }
}

class WorkerConnection implements DatabaseConnection {
  constructor(private readonly pglite: PgliteWorker) {}

  async executeQuery<R>(compiled: CompiledQuery): Promise<QueryResult<R>> {
    const r = await this.pglite.query(compiled.sql, compiled.parameters);
    return { rows: (r.rows ?? []) as R[], ...(r.affectedRows !== undefined ? { numAffectedRows: BigInt(r.affectedRows) } : {}) };
  }

  // eslint-disable-next-line require-yield
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('streaming queries are not supported on the embedded database');
  }
}

class WorkerDriver implements Driver {
  private readonly turns = new Turns();
  private readonly connection: WorkerConnection;
  private readonly releases = new Map<DatabaseConnection, () => void>();

  constructor(private readonly pglite: PgliteWorker) {
    this.connection = new WorkerConnection(pglite);
  }

  async init(): Promise<void> {
    await this.pglite.ready;
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    const release = await this.turns.take();
    this.releases.set(this.connection, release);
    return this.connection;
  }

  async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin'));
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('commit'));
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('rollback'));
  }

  async releaseConnection(connection: DatabaseConnection): Promise<void> {
    const release = this.releases.get(connection);
    this.releases.delete(connection);
    release?.();
  }

  async destroy(): Promise<void> {
    await this.pglite.close();
  }
}

/** Kysely's PostgreSQL dialect over a PGlite worker; destroying the Kysely instance closes the database and stops the worker. */
export function pgliteWorkerDialect(pglite: PgliteWorker): Dialect {
  return {
    createAdapter: () => new PostgresAdapter(),
    createDriver: () => new WorkerDriver(pglite),
    createIntrospector: (db: Kysely<unknown>) => new PostgresIntrospector(db),
    createQueryCompiler: () => new PostgresQueryCompiler(),
  };
}
