/** Helpers for the integ and e2e tiers, on the emulator the global setup provided. */
import { inject } from 'vitest';
import { createPool, type Pool } from '../shared/adapters/database.ts';
import { loadMigrations, migrate } from '../shared/db/migrate.ts';
import { type LocalDatabase, startLocalDatabase } from './db-server.ts';
import { localClientConfig } from './deploy-local.ts';
import { captureEvents as captureOn, type EventCapture } from './fixtures.ts';
import { migrationsDir } from './migrate-local.ts';

export { createEcsService, type EventCapture, uniqueName } from './fixtures.ts';

export const emulatorEndpoint = () => inject('emulatorEndpoint');
export const emulatorClientConfig = () => localClientConfig(emulatorEndpoint());

/** Captures `detailType` events from `busName` into a fresh queue on the test emulator. */
export const captureEvents = (busName: string, detailType: string): Promise<EventCapture> =>
  captureOn(emulatorClientConfig(), busName, detailType);

export interface TestDatabase {
  db: LocalDatabase;
  pool: Pool;
  stop(): Promise<void>;
}

/** A fresh in-memory PGlite with pgvector, migrated, reached through the Neon driver. */
export async function startMigratedDatabase(): Promise<TestDatabase> {
  const db = await startLocalDatabase();
  const pool = createPool({ url: db.url, wsProxy: db.wsProxy });
  await migrate(pool, await loadMigrations(migrationsDir));
  return {
    db,
    pool,
    async stop() {
      await pool.end();
      await db.stop();
    },
  };
}
