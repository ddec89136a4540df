import type { DatabaseEnv } from '../config/env.ts';
import { lazyAsync } from './aws-clients.ts';
import { createPool, type Pool } from './database.ts';
import { resolveDatabaseUrl } from './database-url.ts';

/**
 * The knowledge database pool, created on first use and reused by warm
 * invocations. A failed attempt (secret unreadable, say) is retried next call.
 */
export function knowledgeDbConnector(env: DatabaseEnv): () => Promise<Pool> {
  return lazyAsync(async () =>
    createPool({ url: await resolveDatabaseUrl(env), wsProxy: env.DATABASE_WS_PROXY }),
  );
}
