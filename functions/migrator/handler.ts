import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createEmbeddingModels, embeddingEnvFields } from '#shared/adapters/embeddings.ts';
import { knowledgeDbConnector } from '#shared/adapters/knowledge-db.ts';
import { PostgresKnowledgeStore } from '#shared/adapters/knowledge-store.ts';
import { readRunbookDir } from '#shared/adapters/runbook-files.ts';
import { envWithDatabase, loadEnv, ownerDatabaseFields } from '#shared/config/env.ts';
import { loadMigrations, migrate } from '#shared/db/migrate.ts';
import { createLogger } from '#shared/observability/logger.ts';
import { ingestRunbooks, type RunbookIngestReport } from '#shared/usecases/knowledge.ts';

const logger = createLogger('homeostat-migrator');

const envSchema = envWithDatabase({ ...embeddingEnvFields, ...ownerDatabaseFields });

/**
 * Applies pending migrations on deploy (run by a CDK Trigger) as the schema
 * owner (DATABASE_OWNER_URL[_SECRET_ID], else the agents' URL) and ingests the runbooks — the bundled ones and the
 * user's folder (homeostat:runbooksDir) — which are copied next to the bundle
 * with the SQL files. Throws on any failure (an invalid runbook included) so
 * the deployment fails and rolls back instead of running agents on an outdated
 * schema. Bedrock being unavailable is not a failure: runbooks are stored with
 * offline vectors and the next deploy or `homeostat knowledge ingest` adds the rest.
 */
export const handler = async (): Promise<{
  applied: string[];
  alreadyApplied: string[];
  runbooks: RunbookIngestReport;
}> => {
  const env = loadEnv(envSchema);
  const here = dirname(fileURLToPath(import.meta.url));
  const dir = process.env.MIGRATIONS_DIR ?? join(here, 'migrations');
  // Bundled runbooks, and the user's folder when homeostat:runbooksDir is set.
  const runbookDirs = [join(here, 'runbooks'), join(here, 'user-runbooks')].filter((d) => existsSync(d));
  // The schema owner applies migrations; the agents connect as the runtime role (0010).
  const pool = await knowledgeDbConnector(env, {
    role: 'owner',
    onFallback: (message) => logger.warn('one database URL for the migrator and the agents', { message }),
  })();
  try {
    const report = await migrate(pool, await loadMigrations(dir), (name) =>
      logger.info('migration applied', { migration: name }),
    );
    logger.info('migrations complete', { ...report });
    const runbooks = runbookDirs.flatMap((d) => readRunbookDir(d));
    const embeddings = createEmbeddingModels(
      pool,
      { model: env.HOMEOSTAT_EMBEDDING_MODEL, bedrockEndpoint: env.BEDROCK_ENDPOINT },
      (error) => logger.warn('embedding model unavailable; stored offline vectors only', { error }),
    );
    const ingested = await ingestRunbooks(runbooks, {
      store: new PostgresKnowledgeStore(pool),
      embeddings,
    });
    logger.info('runbooks ingested', { ...ingested, dirs: runbookDirs });
    return { ...report, runbooks: ingested };
  } catch (error) {
    logger.error('migrations failed', { error });
    throw error;
  } finally {
    await pool.end();
  }
};
