import { join } from 'node:path';
import { createPool, type Pool } from '../shared/adapters/database.ts';
import { loadMigrations, type MigrationReport, migrate } from '../shared/db/migrate.ts';
import { startLocalDatabase } from './db-server.ts';
import { projectRoot } from './harness.ts';

export const migrationsDir = join(projectRoot, 'migrations');

/** Applies the project's migrations/ through `pool`. */
const migrateProject = async (pool: Pool) => migrate(pool, await loadMigrations(migrationsDir));

/** Applies the project's migrations to a database reached through the Neon driver. */
export async function migrateLocal(db: {
  url: string;
  wsProxy?: string | undefined;
}): Promise<MigrationReport> {
  const pool = createPool({ url: db.url, wsProxy: db.wsProxy });
  try {
    return await migrateProject(pool);
  } finally {
    await pool.end();
  }
}

/** A fresh in-memory PGlite, migrated, reached through the Neon driver (tests and the bench). */
export async function startMigratedDatabase() {
  const db = await startLocalDatabase();
  const pool = createPool({ url: db.url, wsProxy: db.wsProxy });
  await migrateProject(pool);
  return {
    db,
    pool,
    async stop() {
      await pool.end();
      await db.stop();
    },
  };
}
