/**
 * The one place secrets and parameters are read: Powertools Parameters (Secrets
 * Manager and SSM providers), cached for `maxAgeSeconds`, one provider — and so
 * one cache — per SDK client. Every reader in the agents and the CLI goes
 * through here: the database URLs, the approval signing key, the Slack webhook,
 * the kill switch, the parameters remediation and chaos snapshot and flip, and
 * the settings the deploy writes (shared/adapters/settings-parameters.ts).
 */
import { ParameterNotFoundError } from '@aws-lambda-powertools/parameters/errors';
import { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import { SSMProvider } from '@aws-lambda-powertools/parameters/ssm';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import {
  DeleteParameterCommand,
  ParameterNotFound,
  PutParameterCommand,
  type SSMClient,
} from '@aws-sdk/client-ssm';
import { ConfigurationError } from '../domain/errors.ts';
import { clientDefaults, lazy } from './aws-clients.ts';

export interface ReadOptions {
  /** How long a value read is reused, in seconds; 0 reads it fresh every time. */
  maxAgeSeconds?: number;
}

const ssmProviders = new WeakMap<SSMClient, SSMProvider>();
const secretsProviders = new WeakMap<SecretsManagerClient, SecretsProvider>();
const defaultSecretsClient = lazy(() => new SecretsManagerClient(clientDefaults));

const providerFor = <C extends object, P>(cache: WeakMap<C, P>, client: C, create: (client: C) => P): P => {
  let provider = cache.get(client);
  if (!provider) {
    provider = create(client);
    cache.set(client, provider);
  }
  return provider;
};

/** Powertools wraps every failure in GetParameterError; callers see the SDK's own error (its name, its class). */
const unwrap = (error: unknown): unknown =>
  error instanceof Error && error.name === 'GetParameterError' && error.cause ? error.cause : error;

/** A fresh read neither uses nor fills the cache (Powertools would keep it for its default 5 s). */
const freshness = (options: ReadOptions) => {
  const maxAge = options.maxAgeSeconds ?? 0;
  return maxAge > 0 ? { maxAge } : { forceFetch: true, maxAge: 0 };
};

/** A String parameter's value; null when it does not exist. Read fresh unless `maxAgeSeconds` is set. */
export async function readParameter(
  ssm: SSMClient,
  name: string,
  options: ReadOptions = {},
): Promise<string | null> {
  try {
    return (await ssmProvider(ssm).get(name, { ...freshness(options), throwOnMissing: true })) ?? null;
  } catch (error) {
    if (error instanceof ParameterNotFoundError) return null;
    const cause = unwrap(error);
    if (cause instanceof ParameterNotFound) return null;
    throw cause;
  }
}

const ssmProvider = (ssm: SSMClient) =>
  providerFor(ssmProviders, ssm, (awsSdkV3Client) => new SSMProvider({ awsSdkV3Client }));

/**
 * A String parameter's value decoded as JSON. Read fresh unless `maxAgeSeconds` is set; while
 * cached, the same object is returned. A missing parameter or one that is not JSON is a
 * ConfigurationError naming it; any other failure is the SDK's error.
 */
export async function readJsonParameter(
  ssm: SSMClient,
  name: string,
  options: ReadOptions = {},
): Promise<unknown> {
  try {
    return await ssmProvider(ssm).get(name, {
      ...freshness(options),
      transform: 'json',
      throwOnMissing: true,
    });
  } catch (error) {
    const cause = unwrap(error);
    if (error instanceof ParameterNotFoundError || cause instanceof ParameterNotFound)
      throw new ConfigurationError(`parameter ${name} does not exist`, { cause });
    if (error instanceof Error && error.name === 'TransformParameterError')
      throw new ConfigurationError(`parameter ${name} does not hold JSON`, { cause: error });
    throw cause;
  }
}

/**
 * Every parameter under `path` (recursively), decoded as JSON, by name relative to the path
 * (`/a/b` read under `/a` is `b`); a value that is not JSON is `undefined`, so one bad
 * parameter does not hide the others. Read fresh unless `maxAgeSeconds` is set; while cached,
 * the same record is returned. A failure to read is the SDK's error.
 */
export async function readJsonParametersByPath(
  ssm: SSMClient,
  path: string,
  options: ReadOptions = {},
): Promise<Record<string, unknown>> {
  try {
    return (
      (await ssmProvider(ssm).getMultiple(path, {
        ...freshness(options),
        recursive: true,
        transform: 'json',
        throwOnTransformError: false,
      })) ?? {}
    );
  } catch (error) {
    throw unwrap(error);
  }
}

/** Sets a String parameter, or deletes it for null (already gone is fine): the inverse of readParameter. */
export async function writeParameter(ssm: SSMClient, name: string, value: string | null): Promise<void> {
  if (value !== null) {
    await ssm.send(new PutParameterCommand({ Name: name, Value: value, Type: 'String', Overwrite: true }));
    return;
  }
  await ssm.send(new DeleteParameterCommand({ Name: name })).catch((error) => {
    if (!(error instanceof ParameterNotFound)) throw error;
  });
}

/**
 * A secret's string value, as stored. A missing or empty secret is a ConfigurationError
 * naming it; any other failure is the SDK's error. Cached for five minutes by default.
 */
export async function readSecret(
  secretId: string,
  options: ReadOptions & { client?: SecretsManagerClient } = {},
): Promise<string> {
  const client = options.client ?? defaultSecretsClient();
  const provider = providerFor(
    secretsProviders,
    client,
    (awsSdkV3Client) => new SecretsProvider({ awsSdkV3Client }),
  );
  let value: unknown;
  try {
    value = await provider.get(secretId, {
      ...freshness({ maxAgeSeconds: options.maxAgeSeconds ?? 300 }),
      throwOnMissing: true,
    });
  } catch (error) {
    const cause = unwrap(error);
    if (error instanceof ParameterNotFoundError || (cause as Error)?.name === 'ResourceNotFoundException') {
      throw new ConfigurationError(`secret ${secretId} does not exist`, { cause });
    }
    throw cause;
  }
  if (typeof value !== 'string' || value === '') {
    throw new ConfigurationError(`secret ${secretId} holds no string value`);
  }
  return value;
}
