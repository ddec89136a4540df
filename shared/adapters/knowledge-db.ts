import type { DatabaseEnv, OwnerDatabaseEnv } from '../config/env.ts';
import { lazyAsync } from './aws-clients.ts';
import { createPool, type Pool } from './database.ts';
import { type DatabaseRole, resolveDatabaseUrl } from './database-url.ts';

/**
 * The knowledge database pool, created on first use and reused by warm
 * invocations. A failed attempt (secret unreadable, say) is retried next call.
 * Agents connect as the runtime role; the migrator passes `owner`.
 */
export function knowledgeDbConnector(
  env: DatabaseEnv & Partial<OwnerDatabaseEnv>,
  options: { role?: DatabaseRole; onFallback?: (message: string) => void } = {},
): () => Promise<Pool> {
  return lazyAsync(async () =>
    createPool({ url: await resolveDatabaseUrl(env, options), wsProxy: env.DATABASE_WS_PROXY }),
  );
}
