import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { knowledgeDbConnector } from '#shared/adapters/knowledge-db.ts';
import { databaseEnvSchema, loadEnv } from '#shared/config/env.ts';
import { loadMigrations, migrate } from '#shared/db/migrate.ts';
import { createLogger } from '#shared/observability/logger.ts';

const logger = createLogger('homeostat-migrator');

/**
 * Applies pending migrations on deploy (run by a CDK Trigger). Throws on any
 * failure so the deployment fails and rolls back instead of running agents on
 * an outdated schema. The SQL files are copied next to the bundle.
 */
export const handler = async (): Promise<{ applied: string[]; alreadyApplied: string[] }> => {
  const env = loadEnv(databaseEnvSchema);
  const dir = process.env.MIGRATIONS_DIR ?? join(dirname(fileURLToPath(import.meta.url)), 'migrations');
  const pool = await knowledgeDbConnector(env)();
  try {
    const report = await migrate(pool, await loadMigrations(dir), (name) =>
      logger.info('migration applied', { migration: name }),
    );
    logger.info('migrations complete', { ...report });
    return report;
  } catch (error) {
    logger.error('migrations failed', { error });
    throw error;
  } finally {
    await pool.end();
  }
};
