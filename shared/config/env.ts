import * as z from 'zod/mini';
import { ConfigurationError } from '../domain/errors.ts';
import { describeIssues } from '../events/zod.ts';

/**
 * Reads and validates environment variables once. Throws at cold start with a
 * message naming every missing or invalid variable.
 */
export function loadEnv<S extends z.ZodMiniType>(
  schema: S,
  env: NodeJS.ProcessEnv = process.env,
): z.infer<S> {
  const parsed = schema.safeParse(env);
  if (parsed.success) return parsed.data;
  throw new ConfigurationError(`invalid configuration — ${describeIssues(parsed.error).join('; ')}`);
}

/** Where the knowledge database URL comes from: the environment locally, Secrets Manager in AWS. */
const databaseFields = {
  DATABASE_URL: z.optional(z.string().check(z.startsWith('postgres'))),
  DATABASE_URL_SECRET_ID: z.optional(z.string().check(z.minLength(1))),
  /** host:port of a WebSocket→TCP proxy (local PGlite or self-hosted Postgres); unset for Neon. */
  DATABASE_WS_PROXY: z.optional(z.string().check(z.minLength(1))),
};

/** An environment schema with the database variables plus the agent's own `fields`. */
export function envWithDatabase<F extends z.core.$ZodLooseShape>(fields: F) {
  const hasSource = (v: { DATABASE_URL?: string | undefined; DATABASE_URL_SECRET_ID?: string | undefined }) =>
    Boolean(v.DATABASE_URL || v.DATABASE_URL_SECRET_ID);
  return z.object({ ...databaseFields, ...fields }).check(
    z.refine((v) => hasSource(v as Parameters<typeof hasSource>[0]), {
      message: 'set DATABASE_URL (local) or DATABASE_URL_SECRET_ID (the secret holding the URL)',
      path: ['DATABASE_URL'],
    }),
  );
}

export const databaseEnvSchema = envWithDatabase({});

export type DatabaseEnv = z.infer<typeof databaseEnvSchema>;

/**
 * The schema owner's URL, for the migrator only (the agents connect as the runtime role):
 * directly, or the secret holding it. Neither set: the migrator uses the agents' URL.
 */
export const ownerDatabaseFields = {
  DATABASE_OWNER_URL: z.optional(z.string().check(z.startsWith('postgres'))),
  DATABASE_OWNER_URL_SECRET_ID: z.optional(z.string().check(z.minLength(1))),
};

export type OwnerDatabaseEnv = z.infer<z.ZodMiniObject<typeof ownerDatabaseFields>>;

/** A JSON setting from the environment (empty: `{}`), parsed by `parse`; a clear error naming it otherwise. */
export function jsonSettingFromEnv<T>(
  name: string,
  json: string | undefined,
  parse: (value: unknown) => T,
): T {
  let value: unknown = {};
  if (json && json.trim() !== '') {
    try {
      value = JSON.parse(json);
    } catch {
      throw new ConfigurationError(`${name} must be a JSON object`);
    }
  }
  return parse(value);
}
