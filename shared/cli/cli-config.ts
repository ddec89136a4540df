/**
 * The operator CLI's configuration, resolved in one place for every command:
 *
 * - the AWS region: the SDK's own chain (AWS_REGION, the profile's `region` in
 *   ~/.aws/config, …), read through a client's resolved config, never re-implemented;
 * - the stack: `--stack NAME`, else HOMEOSTAT_STACK, else `Homeostat`;
 * - the database URL: DATABASE_URL, else the secret DATABASE_URL_SECRET_ID, else the
 *   secret the stack's DatabaseUrlSecretName output names.
 *
 * What is missing is said in one sentence naming what to set
 * ({@link MissingConfigurationError}); {@link explainConfigError} turns the SDK's
 * own missing-configuration errors ("Region is missing", no credentials, an
 * emulator endpoint that does not answer) into the same sentences.
 */
import { HomeostatError } from '../domain/errors.ts';

/** Configuration the command needs is absent; the message is one sentence naming what to set. */
export class MissingConfigurationError extends HomeostatError {
  override readonly name = 'MissingConfigurationError';
}

/** The stack the CLI uses when neither --stack nor HOMEOSTAT_STACK names one. */
export const defaultStack = 'Homeostat';

/** The one-sentence messages, each naming what to set. */
export const configMessages = {
  region: 'No AWS region: set AWS_REGION or run `aws configure`.',
  credentials:
    'No AWS credentials: set AWS_PROFILE (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY) or run `aws configure`.',
  stack: (stack: string, region: string) =>
    `Stack ${stack} not found in ${region}: deploy it or pass --stack NAME (or set HOMEOSTAT_STACK).`,
  output: (stack: string, key: string) =>
    `Stack ${stack} has no ${key} output: deploy this version of Homeostat or pass --stack NAME.`,
  database:
    'No database URL: set DATABASE_URL (with DATABASE_WS_PROXY for the local stack) or DATABASE_URL_SECRET_ID, or set AWS_REGION to read it from the stack.',
  endpoint: (url: string) =>
    `Nothing answers at AWS_ENDPOINT_URL ${url}: start the local stack (npm run local:up) or unset AWS_ENDPOINT_URL.`,
} as const;

/** The stack named by `--stack NAME` in `args`, else HOMEOSTAT_STACK, else {@link defaultStack}. */
export function stackName(args: readonly string[], env: NodeJS.ProcessEnv = process.env): string {
  const i = args.indexOf('--stack');
  const given = i >= 0 ? args[i + 1] : undefined;
  return given || env.HOMEOSTAT_STACK || defaultStack;
}

/** `args` without `--stack NAME`. */
export function withoutStack(args: readonly string[]): string[] {
  const i = args.indexOf('--stack');
  return i >= 0 ? [...args.slice(0, i), ...args.slice(i + 2)] : [...args];
}

/**
 * The AWS region the SDK would use (its own resolution chain).
 * @throws MissingConfigurationError when no region is configured.
 */
export async function awsRegion(): Promise<string> {
  const { CloudFormationClient } = await import('@aws-sdk/client-cloudformation');
  const client = new CloudFormationClient({});
  try {
    return await client.config.region();
  } catch (error) {
    throw new MissingConfigurationError(explainConfigError(error) ?? configMessages.region, { cause: error });
  } finally {
    client.destroy();
  }
}

/**
 * The one sentence for an error that means configuration is missing, or
 * undefined for any other error. Knows the SDK's "Region is missing", its
 * CredentialsProviderError, a refused connection to AWS_ENDPOINT_URL, and
 * {@link MissingConfigurationError} itself.
 */
export function explainConfigError(error: unknown, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (error instanceof MissingConfigurationError) return error.message;
  const e = error as { name?: unknown; message?: unknown; code?: unknown; cause?: unknown } | null;
  if (!e || typeof e !== 'object') return undefined;
  if (e.message === 'Region is missing') return configMessages.region;
  if (e.name === 'CredentialsProviderError') return configMessages.credentials;
  const endpoint = env.AWS_ENDPOINT_URL;
  const refused =
    e.code === 'ECONNREFUSED' || (e.cause as { code?: unknown } | undefined)?.code === 'ECONNREFUSED';
  if (endpoint && refused) return configMessages.endpoint(endpoint);
  return undefined;
}

/**
 * The database URL for the CLI: DATABASE_URL, else the secret DATABASE_URL_SECRET_ID,
 * else the secret named by `stack`'s DatabaseUrlSecretName output.
 * @throws MissingConfigurationError when none is set and no AWS region says where the stack is
 *   (the database sentence), or the secret is named but no region is set (the region sentence).
 */
export async function databaseUrl(stack: string, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  if (env.DATABASE_URL) return env.DATABASE_URL;
  try {
    await awsRegion();
  } catch (error) {
    // With DATABASE_URL_SECRET_ID set, the region is what is missing (to read the secret).
    if (error instanceof MissingConfigurationError && !env.DATABASE_URL_SECRET_ID)
      throw new MissingConfigurationError(configMessages.database, { cause: error });
    throw error;
  }
  const { resolveDatabaseUrl } = await import('../adapters/database-url.ts');
  const secretId = env.DATABASE_URL_SECRET_ID || (await stackOutput(stack, 'DatabaseUrlSecretName'));
  return resolveDatabaseUrl({ DATABASE_URL_SECRET_ID: secretId });
}

/**
 * One output of `stack` (DescribeStacks).
 * @throws MissingConfigurationError (one sentence naming what to set) when no region is
 *   configured, the stack does not exist in the region, or it has no `key` output.
 */
export async function stackOutput(stack: string, key: string): Promise<string> {
  const [
    { CloudFormationClient, DescribeStacksCommand },
    { awsRegion, configMessages, MissingConfigurationError },
  ] = await Promise.all([import('@aws-sdk/client-cloudformation'), import('./cli-config.ts')]);
  const region = await awsRegion();
  const cfn = new CloudFormationClient({});
  let outputs: Array<{ OutputKey?: string; OutputValue?: string }> | undefined;
  try {
    outputs = (await cfn.send(new DescribeStacksCommand({ StackName: stack }))).Stacks?.[0]?.Outputs;
  } catch (error) {
    if ((error as Error).name === 'ValidationError')
      throw new MissingConfigurationError(configMessages.stack(stack, region), { cause: error });
    throw error;
  } finally {
    cfn.destroy();
  }
  const value = outputs?.find((o) => o.OutputKey === key)?.OutputValue;
  if (!value) throw new MissingConfigurationError(configMessages.output(stack, key));
  return value;
}
