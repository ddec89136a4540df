import type { DatabaseEnv, OwnerDatabaseEnv } from '../config/env.ts';
import { ConfigurationError } from '../domain/errors.ts';
import { readSecret } from './parameters.ts';

/**
 * Who connects: the agents (and the CLI) as the runtime role, which reads and writes
 * rows only (migration 0010); the migrator as the schema owner, which applies migrations.
 */
export type DatabaseRole = 'runtime' | 'owner';

export interface ResolveDatabaseUrlOptions {
  /** @default 'runtime' */
  role?: DatabaseRole;
  /** Reads a secret's string (the one reader in parameters.ts by default). */
  readSecret?: (secretId: string) => Promise<string>;
  /** Told when the owner URL falls back to the runtime one (a single URL is configured). */
  onFallback?: (message: string) => void;
}

/**
 * The knowledge database URL for `role`.
 * - runtime: DATABASE_URL when set (local runs), otherwise the secret DATABASE_URL_SECRET_ID.
 * - owner: DATABASE_OWNER_URL, otherwise the secret DATABASE_OWNER_URL_SECRET_ID; with
 *   neither, the runtime URL, and `onFallback` says so: one URL serves the migrator and
 *   the agents alike, so it must be the owner's and the agents run with its privileges.
 * A secret holds the bare URL, or JSON with a `url` (or `DATABASE_URL`) field.
 */
export async function resolveDatabaseUrl(
  env: DatabaseEnv & Partial<OwnerDatabaseEnv>,
  options: ResolveDatabaseUrlOptions = {},
): Promise<string> {
  const read = options.readSecret ?? ((id: string) => readSecret(id));
  if (options.role === 'owner') {
    if (env.DATABASE_OWNER_URL) return env.DATABASE_OWNER_URL;
    if (env.DATABASE_OWNER_URL_SECRET_ID) return urlFromSecret(env.DATABASE_OWNER_URL_SECRET_ID, read);
    options.onFallback?.(
      `no owner database URL (DATABASE_OWNER_URL / DATABASE_OWNER_URL_SECRET_ID): the migrator uses ${
        env.DATABASE_URL ? 'DATABASE_URL' : `the secret ${env.DATABASE_URL_SECRET_ID}`
      }, the agents' URL, which must then be the schema owner's; the agents run with its privileges`,
    );
  }
  if (env.DATABASE_URL) return env.DATABASE_URL;
  return urlFromSecret(env.DATABASE_URL_SECRET_ID as string, read);
}

async function urlFromSecret(secretId: string, read: (id: string) => Promise<string>): Promise<string> {
  const value = (await read(secretId)).trim();
  const url = value.startsWith('{') ? urlFromJson(value) : value;
  if (!url.startsWith('postgres')) {
    throw new ConfigurationError(
      `secret ${secretId} does not hold a postgres:// URL; put the Neon connection string in it`,
    );
  }
  return url;
}

function urlFromJson(value: string): string {
  try {
    const parsed = JSON.parse(value) as Record<string, unknown>;
    const url = parsed.url ?? parsed.DATABASE_URL;
    return typeof url === 'string' ? url : '';
  } catch {
    return '';
  }
}
