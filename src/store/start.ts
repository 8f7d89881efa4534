/**
 * The store as `palabre serve` starts it: opened from the `store` settings,
 * migrated, calls left open by an earlier stop closed as interrupted, its
 * metrics in the app's registry, and the observer every transport's calls
 * report to. A database that cannot be reached stops the start-up with a
 * clear error (store.enabled=false runs without a store).
 */
import type { Registry } from 'prom-client';
import type { CallObserver } from '../call/factory.js';
import { instanceIdOf, type Config } from '../config.js';
import type { Logger } from '../log.js';
import { openStore } from './db.js';
import { createStoreMetrics } from './metrics.js';
import { createStoreObserver } from './observer.js';
import type { Store } from './types.js';

export interface StartedStore {
  store: Store;
  observers: CallObserver[];
}

export async function startStore(config: Config, logger: Logger, registry: Registry): Promise<StartedStore | undefined> {
  const c = config.store;
  if (!c.enabled) {
    logger.warn('the store is disabled (store.enabled=false): calls are not kept');
    return undefined;
  }
  const store = await openStore({
    url: c.url,
    dataDir: config.dataDir,
    logger,
    poolSize: c.poolSize,
    instanceId: instanceIdOf(config),
    metrics: createStoreMetrics(registry),
    writer: { queueMax: c.queueMax, batchMs: c.batchMs, batchMax: c.batchMax, retries: c.retries },
  });
  try {
    const applied = await store.migrate();
    if (applied.length > 0) logger.info({ applied }, 'store migrations applied');
    await store.closeInterrupted();
  } catch (err) {
    await store.close().catch(() => undefined);
    throw err;
  }
  logger.info({ kind: store.kind }, 'store ready');
  return { store, observers: [createStoreObserver(store, logger)] };
}
