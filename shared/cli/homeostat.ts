/**
 * The operator CLI: `npx homeostat <command>` — incidents, show, approve,
 * reject, kill-switch, autonomy, knowledge, explain-event, scenarios, report,
 * chaos, dlq, mcp. Configuration (region, stack, database) is resolved in
 * cli-config.ts; what is missing is said in one sentence, without a stack trace.
 */
import { readFile } from 'node:fs/promises';
import { mcpUsage } from '../mcp/stdio.ts';
import { approvalCommand, approvalUsage, awsApprovalDeps } from './approve.ts';
import { chaosUsage } from './chaos.ts';
import { explainConfigError, stackName, withoutStack } from './cli-config.ts';
import { dlqUsage } from './dlq.ts';
import { explainEvent } from './explain-event.ts';
import { knowledgeUsage } from './knowledge.ts';
import { operateUsage } from './operate.ts';
import { reportUsage } from './report.ts';

const usage = `usage: homeostat <command>

commands:
${operateUsage}${reportUsage}${chaosUsage}  scenarios [file|dir] [--json]      run the scenario suite against the local stack (npm run scenarios)
  explain-event <file|->  [--json]   how Homeostat interprets one raw EventBridge event
                                     (DATABASE_URL set: also whether the service is watched)
${knowledgeUsage}${approvalUsage}${dlqUsage}${mcpUsage}
Every command that reaches AWS uses the usual AWS profile/region variables (AWS_REGION or
\`aws configure\`; AWS_ENDPOINT_URL for the local stack) and the stack named by --stack NAME, else
HOMEOSTAT_STACK, else Homeostat. The database: DATABASE_URL (+ DATABASE_WS_PROXY, as printed by
npm run local:up), DATABASE_URL_SECRET_ID, or the secret the stack's DatabaseUrlSecretName names.
HOMEOSTAT_EMBEDDING_MODEL picks the embedding model (default homeostat-hash-v1, offline).
`;

/** Runs `homeostat knowledge …` against the configured database. */
async function runKnowledge(args: string[]) {
  const [z, { loadEnv }, { cliPool }, { PostgresKnowledgeStore }, embeddings, files, cli] = await Promise.all(
    [
      import('zod/mini'),
      import('../config/env.ts'),
      import('./operate-aws.ts'),
      import('../adapters/knowledge-store.ts'),
      import('../adapters/embeddings.ts'),
      import('../adapters/runbook-files.ts'),
      import('./knowledge.ts'),
    ],
  );
  const env = loadEnv(z.object(embeddings.embeddingEnvFields));
  const pool = await cliPool(stackName(args));
  try {
    return await cli.knowledgeCommand(withoutStack(args), {
      store: new PostgresKnowledgeStore(pool),
      embeddings: embeddings.createEmbeddingModels(
        pool,
        { model: env.HOMEOSTAT_EMBEDDING_MODEL, bedrockEndpoint: env.BEDROCK_ENDPOINT },
        (error) => process.stderr.write(`warning: ${error.message}; using the offline model\n`),
      ),
      readRunbooks: (dir) => files.readRunbookDir(dir),
      progress: (line) => process.stderr.write(`${line}\n`),
    });
  } finally {
    await pool.end();
  }
}

async function readInput(path: string): Promise<string> {
  if (path !== '-') return readFile(path, 'utf8');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function watchedLookup(): Promise<
  ((cluster: string, service: string) => Promise<boolean>) | undefined
> {
  if (!process.env.DATABASE_URL) return undefined;
  const { createPool } = await import('../adapters/database.ts');
  const pool = createPool({ url: process.env.DATABASE_URL, wsProxy: process.env.DATABASE_WS_PROXY });
  return async (cluster, service) => {
    try {
      const { rows } = await pool.query(
        'SELECT 1 FROM watched_services WHERE cluster = $1 AND service = $2',
        [cluster, service],
      );
      return rows.length > 0;
    } finally {
      await pool.end();
    }
  };
}

/** Runs a command that reads the database (and SSM), closing what it opened. */
async function runOperate(command: string, args: string[]) {
  const [{ cliPool, awsOperateDeps }, { lazyAsync }] = await Promise.all([
    import('./operate-aws.ts'),
    import('../adapters/aws-clients.ts'),
  ]);
  const stack = stackName(args);
  const rest = withoutStack(args);
  const pools: Array<{ end(): Promise<void> }> = [];
  const pool = lazyAsync(async () => {
    const p = await cliPool(stack);
    pools.push(p);
    return p;
  });
  const { deps, close } = await awsOperateDeps(stack, pool);
  try {
    const chaosRecords = async (since: Date, until: Date) => {
      const { PostgresChaosStore } = await import('../adapters/chaos-store.ts');
      return new PostgresChaosStore(await pool()).records(since, until);
    };
    if (command === 'report') {
      const [{ reportCommand }, { reportIncidents }] = await Promise.all([
        import('./report.ts'),
        import('../adapters/incident-views.ts'),
      ]);
      return await reportCommand(rest, {
        incidents: async (since, until) => reportIncidents(await pool(), since, until),
        gameDays: chaosRecords,
        progress: (line) => process.stderr.write(`${line}\n`),
      });
    }
    if (command === 'chaos') {
      const [{ chaosCommand }, { invokeJson }, { stackOutput }, { cliUser }] = await Promise.all([
        import('./chaos.ts'),
        import('./stack.ts'),
        import('./cli-config.ts'),
        import('./operate-aws.ts'),
      ]);
      return await chaosCommand(rest, {
        invoke: async (request) =>
          (await invokeJson(await stackOutput(stack, 'ChaosFunctionName'), request, 'chaos agent')) as never,
        records: chaosRecords,
        user: cliUser(),
      });
    }
    const { operateCommand } = await import('./operate.ts');
    return await operateCommand(command, rest, deps);
  } finally {
    close();
    await Promise.all(pools.map((p) => p.end()));
  }
}

/** Runs `homeostat dlq …` against the agent's dead-letter queue. */
async function runDlq(args: string[]) {
  const [{ dlqCommand }, { awsDlqDeps }] = await Promise.all([import('./dlq.ts'), import('./dlq-aws.ts')]);
  const { deps, close } = await awsDlqDeps();
  try {
    return await dlqCommand(args, deps);
  } finally {
    close();
  }
}

/** `homeostat scenarios …` runs the scenario runner (localstack/scenarios.ts) with the same arguments. */
async function runScenarios(args: string[]): Promise<number> {
  const [{ spawn }, { fileURLToPath }] = await Promise.all([
    import('node:child_process'),
    import('node:url'),
  ]);
  const script = fileURLToPath(new URL('../../localstack/scenarios.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { stdio: 'inherit' });
  return new Promise((resolve) => child.on('exit', (code) => resolve(code ?? 1)));
}

const operateCommands = new Set(['incidents', 'show', 'kill-switch', 'autonomy', 'report', 'chaos']);

interface Output {
  stdout: string;
  stderr: string;
  exitCode: number;
}

/** Writes a command's output; any error becomes one line (missing configuration: the sentence naming what to set). */
async function run(command: () => Promise<Output | number>): Promise<number> {
  try {
    const out = await command();
    if (typeof out === 'number') return out;
    process.stdout.write(out.stdout);
    process.stderr.write(out.stderr);
    return out.exitCode;
  } catch (error) {
    const e = error as Error & { code?: unknown };
    if (String(e.code ?? '').startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`${e.message}\n`);
      return 2;
    }
    process.stderr.write(`${explainConfigError(error) ?? `${e.name}: ${e.message}`}\n`);
    return 1;
  }
}

async function explainEventCommand(rest: string[]): Promise<Output> {
  const json = rest.includes('--json');
  const path = rest.find((a) => !a.startsWith('--'));
  if (!path)
    return {
      stdout: '',
      stderr: `explain-event needs a file or - for standard input\n\n${usage}`,
      exitCode: 2,
    };
  let text: string;
  try {
    text = await readInput(path);
  } catch (error) {
    return { stdout: '', stderr: `cannot read ${path}: ${(error as Error).message}\n`, exitCode: 2 };
  }
  return explainEvent(text, { json, isWatched: await watchedLookup() });
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command && operateCommands.has(command)) return run(() => runOperate(command, rest));
  if (command === 'scenarios') return runScenarios(rest);
  if (command === 'mcp') return run(async () => (await import('../mcp/stdio.ts')).serveStdio(rest));
  if (command === 'explain-event') return run(() => explainEventCommand(rest));
  if (command === 'knowledge') return run(() => runKnowledge(rest));
  if (command === 'dlq') return run(() => runDlq(rest));
  if (command === 'approve' || command === 'reject')
    return run(async () => approvalCommand(command, rest, await awsApprovalDeps()));
  process.stderr.write(command && command !== '--help' ? `unknown command: ${command}\n\n${usage}` : usage);
  return command && command !== '--help' ? 2 : 0;
}

process.exitCode = await main(process.argv.slice(2));
// A database WebSocket still closing must not hold the terminal; stdout is already written.
setTimeout(() => process.exit(), 250).unref();
