import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { knowledgeDbConnector } from '#shared/adapters/knowledge-db.ts';
import { PostgresPerceptionStore } from '#shared/adapters/perception-store.ts';
import { databaseEnvSchema, loadEnv } from '#shared/config/env.ts';
import { loadMigrations, migrate } from '#shared/db/migrate.ts';
import { ConfigurationError } from '#shared/domain/errors.ts';
import { createLogger } from '#shared/observability/logger.ts';

const logger = createLogger('homeostat-migrator');

interface Registration {
  cluster: string;
  service: string;
  alarmPrefixes: string[];
  minTasks: number;
  maxTasks: number;
}

/** Watched services from the stack (WatchedService registrations), as JSON in HOMEOSTAT_WATCHED_SERVICES. */
function watchedServicesFromEnv(): Registration[] {
  const raw = process.env.HOMEOSTAT_WATCHED_SERVICES ?? '[]';
  const list = JSON.parse(raw) as Registration[];
  if (!Array.isArray(list)) throw new ConfigurationError('HOMEOSTAT_WATCHED_SERVICES must be a JSON array');
  return list;
}

/**
 * Applies pending migrations on deploy (run by a CDK Trigger), then registers
 * the stack's watched services. Throws on any
 * failure so the deployment fails and rolls back instead of running agents on
 * an outdated schema. The SQL files are copied next to the bundle.
 */
export const handler = async (): Promise<{
  applied: string[];
  alreadyApplied: string[];
  registered: number;
}> => {
  const env = loadEnv(databaseEnvSchema);
  const dir = process.env.MIGRATIONS_DIR ?? join(dirname(fileURLToPath(import.meta.url)), 'migrations');
  const pool = await knowledgeDbConnector(env)();
  try {
    const report = await migrate(pool, await loadMigrations(dir), (name) =>
      logger.info('migration applied', { migration: name }),
    );
    logger.info('migrations complete', { ...report });
    const services = watchedServicesFromEnv();
    const store = new PostgresPerceptionStore(pool);
    for (const service of services) await store.registerService({ ...service, allowedActions: [] });
    logger.info('watched services registered', {
      services: services.map((s) => `${s.cluster}/${s.service}`),
    });
    return { ...report, registered: services.length };
  } catch (error) {
    logger.error('migrations failed', { error });
    throw error;
  } finally {
    await pool.end();
  }
};
