import type { DatabaseEnv } from '../config/env.ts';
import { createPool, type Pool } from './database.ts';
import { resolveDatabaseUrl } from './database-url.ts';

/**
 * The knowledge database pool, created on first use and reused by warm
 * invocations. A failed attempt (secret unreadable, say) is retried next call.
 */
export function knowledgeDbConnector(env: DatabaseEnv): () => Promise<Pool> {
  let pool: Promise<Pool> | undefined;
  return () => {
    pool ??= resolveDatabaseUrl(env)
      .then((url) => createPool({ url, wsProxy: env.DATABASE_WS_PROXY }))
      .catch((error: unknown) => {
        pool = undefined;
        throw error;
      });
    return pool;
  };
}
