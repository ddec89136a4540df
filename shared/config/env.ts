import { z } from 'zod';
import { ConfigurationError } from '../domain/errors.ts';

/**
 * Reads and validates environment variables once. Throws at cold start with a
 * message naming every missing or invalid variable.
 */
export function loadEnv<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv = process.env): z.infer<S> {
  const parsed = schema.safeParse(env);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
  throw new ConfigurationError(`invalid configuration — ${problems.join('; ')}`);
}

/** Where the knowledge database URL comes from: the environment locally, Secrets Manager in AWS. */
const databaseFields = {
  DATABASE_URL: z.string().startsWith('postgres').optional(),
  DATABASE_URL_SECRET_ID: z.string().min(1).optional(),
  /** host:port of a WebSocket→TCP proxy (local PGlite or self-hosted Postgres); unset for Neon. */
  DATABASE_WS_PROXY: z.string().min(1).optional(),
};

/** An environment schema with the database variables plus the agent's own `fields`. */
export function envWithDatabase<F extends z.ZodRawShape>(fields: F) {
  const hasSource = (v: { DATABASE_URL?: string | undefined; DATABASE_URL_SECRET_ID?: string | undefined }) =>
    Boolean(v.DATABASE_URL || v.DATABASE_URL_SECRET_ID);
  return z.object({ ...databaseFields, ...fields }).refine((v) => hasSource(v as Parameters<typeof hasSource>[0]), {
    message: 'set DATABASE_URL (local) or DATABASE_URL_SECRET_ID (the secret holding the URL)',
    path: ['DATABASE_URL'],
  });
}

export const databaseEnvSchema = envWithDatabase({});

export type DatabaseEnv = z.infer<typeof databaseEnvSchema>;
