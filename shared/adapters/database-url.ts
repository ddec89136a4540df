import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { DatabaseEnv } from '../config/env.ts';
import { ConfigurationError } from '../domain/errors.ts';
import { clientDefaults } from './aws-clients.ts';

/**
 * The knowledge database URL: DATABASE_URL when set (local runs), otherwise the
 * secret named by DATABASE_URL_SECRET_ID. The secret holds the bare URL, or JSON
 * with a `url` (or `DATABASE_URL`) field.
 */
export async function resolveDatabaseUrl(
  env: DatabaseEnv,
  secrets: () => SecretsManagerClient = () => new SecretsManagerClient(clientDefaults),
): Promise<string> {
  if (env.DATABASE_URL) return env.DATABASE_URL;
  const secretId = env.DATABASE_URL_SECRET_ID as string;
  const out = await secrets().send(new GetSecretValueCommand({ SecretId: secretId }));
  const value = out.SecretString?.trim() ?? '';
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
