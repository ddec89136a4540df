import { spawn } from 'node:child_process';
import { join } from 'node:path';
import {
  CloudFormationClient,
  DeleteStackCommand,
  DescribeStacksCommand,
} from '@aws-sdk/client-cloudformation';
import {
  CreateSecretCommand,
  PutSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { localAwsEnv, projectRoot, waitFor } from './harness.ts';

export interface LocalDeployOptions {
  endpoint: string;
  database: { url: string; wsProxy: string };
  /** @default 'Homeostat' */
  stackName?: string;
  /** @default 'homeostat' */
  busName?: string;
  /** @default 'homeostat/database-url' */
  secretName?: string;
  /** Context homeostat:watchedServices for the deploy. @default [] */
  watchedServices?: {
    cluster: string;
    service: string;
    alarmNamePrefixes?: string[];
    standardAlarms?: boolean;
  }[];
  /** Context homeostat:chaos (experiments, schedules, guardrails). @default none */
  chaos?: unknown;
  log?: (line: string) => void;
}

/** SDK client settings for the emulator (dummy credentials, fixed region). */
export function localClientConfig(endpoint: string) {
  return {
    endpoint,
    region: localAwsEnv.AWS_REGION,
    credentials: {
      accessKeyId: localAwsEnv.AWS_ACCESS_KEY_ID,
      secretAccessKey: localAwsEnv.AWS_SECRET_ACCESS_KEY,
    },
  };
}

/** Environment for AWS clients and cdklocal talking to the emulator. */
export function emulatorEnv(endpoint: string): NodeJS.ProcessEnv {
  return {
    ...localAwsEnv,
    AWS_ENDPOINT_URL: endpoint,
    AWS_ENDPOINT_URL_S3: endpoint,
    // cdklocal strips AWS_* variables it does not know unless they are listed here.
    AWS_ENVAR_ALLOWLIST:
      'AWS_REGION,AWS_DEFAULT_REGION,AWS_ACCESS_KEY_ID,AWS_SECRET_ACCESS_KEY,AWS_ENDPOINT_URL_S3',
  };
}

/** Creates or updates the secret that holds the database URL, as a user does before `cdk deploy`. */
export async function putDatabaseSecret(endpoint: string, name: string, url: string): Promise<void> {
  const client = new SecretsManagerClient(localClientConfig(endpoint));
  try {
    await client.send(new PutSecretValueCommand({ SecretId: name, SecretString: url }));
  } catch (error) {
    if (!(error instanceof ResourceNotFoundException)) throw error;
    await client.send(new CreateSecretCommand({ Name: name, SecretString: url }));
  } finally {
    client.destroy();
  }
}

function run(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  log: (line: string) => void,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: projectRoot, env: { ...process.env, ...env }, stdio: 'pipe' });
    let output = '';
    const collect = (chunk: Buffer) => {
      output += chunk.toString();
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) return resolve();
      log(output.trim().split('\n').slice(-40).join('\n'));
      reject(new Error(`${command} ${args.join(' ')} exited with ${code}`));
    });
  });
}

/** Remediation settings of the local stack (shared/config/remediation.ts); the rest are the defaults. */
export const localRemediationSettings = {
  settleSeconds: 1,
  recheckSeconds: 1,
  maxChecks: 1,
  minSteadyMinutes: 1,
};

/** The CDK context (`key=value`, each given with `-c`) of a local deploy: the emulator's limits, offline models. */
export function localDeployContext(
  options: LocalDeployOptions,
  secretName = options.secretName ?? 'homeostat/database-url',
): string[] {
  return [
    `homeostat:stackName=${options.stackName ?? 'Homeostat'}`,
    // One kill switch per stack: the test stacks share the emulator with the demo's.
    `homeostat:killSwitchParameter=${
      (options.stackName ?? 'Homeostat') === 'Homeostat'
        ? '/homeostat/kill-switch'
        : `/homeostat/${options.stackName}/kill-switch`
    }`,
    `homeostat:busName=${options.busName ?? 'homeostat'}`,
    `homeostat:databaseUrlSecretName=${secretName}`,
    // Lambdas running in containers reach the host as host.docker.internal, say.
    `homeostat:databaseWsProxy=${process.env.HOMEOSTAT_LAMBDA_DB_PROXY ?? options.database.wsProxy}`,
    // MiniStack's CloudFormation has no AWS::Events::Archive nor AWS::EventSchemas::*.
    'homeostat:archive=false',
    'homeostat:schemaRegistry=false',
    // …nor metric-math alarms: agent errors are alarmed by count.
    'homeostat:metricMathAlarms=false',
    // Offline: no Bedrock locally (HOMEOSTAT_EMBEDDING_MODEL picks Titan against a real account).
    `homeostat:embeddingModel=${process.env.HOMEOSTAT_EMBEDDING_MODEL ?? 'homeostat-hash-v1'}`,
    // …and the offline diagnosis rules: a real account defaults to Bedrock.
    `homeostat:diagnosis=${JSON.stringify({ provider: 'offline' })}`,
    `homeostat:watchedServices=${JSON.stringify(options.watchedServices ?? [])}`,
    // The emulator's scheduler fires every 10 s and nothing settles for real: verify after a
    // moment, once (the scenario runner plays the world's answer at once).
    `homeostat:remediation=${JSON.stringify(localRemediationSettings)}`,
    `homeostat:chaos=${JSON.stringify(options.chaos ?? {})}`,
  ];
}

/** `cdklocal bootstrap` + `cdklocal deploy --all` into the emulator, wired to the local database. */
export async function deployLocal(options: LocalDeployOptions): Promise<void> {
  const log = options.log ?? (() => {});
  const secretName = options.secretName ?? 'homeostat/database-url';
  await putDatabaseSecret(options.endpoint, secretName, options.database.url);
  const env = emulatorEnv(options.endpoint);
  const cdklocal = join(projectRoot, 'node_modules', '.bin', 'cdklocal');
  const context = localDeployContext(options, secretName).flatMap((c) => ['-c', c]);
  log('cdklocal bootstrap');
  await run(cdklocal, ['bootstrap', '--quiet', ...context], env, log);
  // A first deploy that failed leaves ROLLBACK_COMPLETE, which CloudFormation cannot update.
  const stackName = options.stackName ?? 'Homeostat';
  if ((await stackStatus(options.endpoint, stackName)) === 'ROLLBACK_COMPLETE') {
    log(`deleting ${stackName}, left in ROLLBACK_COMPLETE by an earlier failed deploy`);
    await deleteStack(options.endpoint, stackName);
  }
  log('cdklocal deploy --all');
  // Direct UpdateStack: MiniStack loses some change sets when an existing stack is updated.
  await run(
    cdklocal,
    ['deploy', '--all', '--require-approval', 'never', '--method', 'direct', ...context],
    env,
    log,
  );
}

/** The stack's outputs, by key. */
export async function stackOutputs(endpoint: string, stackName: string): Promise<Record<string, string>> {
  const client = new CloudFormationClient(localClientConfig(endpoint));
  try {
    const out = await client.send(new DescribeStacksCommand({ StackName: stackName }));
    return Object.fromEntries(
      (out.Stacks?.[0]?.Outputs ?? []).map((o) => [o.OutputKey ?? '', o.OutputValue ?? '']),
    );
  } finally {
    client.destroy();
  }
}

async function stackStatus(endpoint: string, stackName: string): Promise<string | undefined> {
  const client = new CloudFormationClient(localClientConfig(endpoint));
  try {
    const out = await client.send(new DescribeStacksCommand({ StackName: stackName }));
    return out.Stacks?.[0]?.StackStatus;
  } catch {
    return undefined;
  } finally {
    client.destroy();
  }
}

/** Deletes the stack and waits until it is gone (at most `timeoutMs`, default 60 s). */
export async function deleteStack(endpoint: string, stackName: string, timeoutMs = 60_000): Promise<void> {
  const client = new CloudFormationClient(localClientConfig(endpoint));
  try {
    await client.send(new DeleteStackCommand({ StackName: stackName }));
    await waitFor(
      `stack ${stackName} to be deleted`,
      async () => {
        const status = await stackStatus(endpoint, stackName);
        return status === undefined || status === 'DELETE_COMPLETE';
      },
      { timeoutMs },
    );
  } finally {
    client.destroy();
  }
}
