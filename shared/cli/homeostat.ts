/**
 * The operator CLI: `npx homeostat <command>` — incidents, show, approve,
 * reject, kill-switch, autonomy, knowledge, explain-event, scenarios, report,
 * chaos, mcp.
 */
import { readFile } from 'node:fs/promises';
import { mcpUsage } from '../mcp/stdio.ts';
import { approvalCommand, approvalUsage, awsApprovalDeps } from './approve.ts';
import { chaosUsage } from './chaos.ts';
import { explainEvent } from './explain-event.ts';
import { knowledgeUsage } from './knowledge.ts';
import { operateUsage } from './operate.ts';
import { reportUsage } from './report.ts';

const usage = `usage: homeostat <command>

commands:
${operateUsage}${reportUsage}${chaosUsage}  scenarios [file|dir] [--json]      run the scenario suite against the local stack (npm run scenarios)
  explain-event <file|->  [--json]   how Homeostat interprets one raw EventBridge event
                                     (DATABASE_URL set: also whether the service is watched)
${knowledgeUsage}${approvalUsage}${mcpUsage}
Every command that reaches AWS uses the usual AWS profile/region variables (AWS_ENDPOINT_URL for
the local stack) and the stack named by --stack (default Homeostat). The database: DATABASE_URL
(+ DATABASE_WS_PROXY, as printed by npm run local:up), DATABASE_URL_SECRET_ID, or the stack's secret. The knowledge commands need the database: DATABASE_URL (+ DATABASE_WS_PROXY for the local
stack, as printed by npm run local:up) or DATABASE_URL_SECRET_ID with AWS credentials.
HOMEOSTAT_EMBEDDING_MODEL picks the embedding model (default homeostat-hash-v1, offline).
`;

/** Runs `homeostat knowledge …` against the configured database. */
async function runKnowledge(args: string[]) {
  const [
    { loadEnv, envWithDatabase },
    { knowledgeDbConnector },
    { PostgresKnowledgeStore },
    embeddings,
    files,
    cli,
  ] = await Promise.all([
    import('../config/env.ts'),
    import('../adapters/knowledge-db.ts'),
    import('../adapters/knowledge-store.ts'),
    import('../adapters/embeddings.ts'),
    import('../adapters/runbook-files.ts'),
    import('./knowledge.ts'),
  ]);
  const env = loadEnv(envWithDatabase(embeddings.embeddingEnvFields));
  const pool = await knowledgeDbConnector(env)();
  try {
    return await cli.knowledgeCommand(args, {
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
  const stack = stackOf(args);
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
      const [{ chaosCommand }, { stackOutput, invokeJson }, { cliUser }] = await Promise.all([
        import('./chaos.ts'),
        import('./stack.ts'),
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

const stackOf = (args: string[]) => {
  const i = args.indexOf('--stack');
  return i >= 0 && args[i + 1] ? (args[i + 1] as string) : 'Homeostat';
};
const withoutStack = (args: string[]) => {
  const i = args.indexOf('--stack');
  return i >= 0 ? [...args.slice(0, i), ...args.slice(i + 2)] : args;
};

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

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command && operateCommands.has(command)) {
    try {
      const out = await runOperate(command, rest);
      process.stdout.write(out.stdout);
      process.stderr.write(out.stderr);
      return out.exitCode;
    } catch (error) {
      const usageMistake = String((error as { code?: unknown }).code ?? '').startsWith('ERR_PARSE_ARGS');
      process.stderr.write(
        `${usageMistake ? '' : `${(error as Error).name}: `}${(error as Error).message}\n`,
      );
      return usageMistake ? 2 : 1;
    }
  }
  if (command === 'scenarios') return runScenarios(rest);
  if (command === 'mcp') {
    try {
      return await (await import('../mcp/stdio.ts')).serveStdio(rest);
    } catch (error) {
      process.stderr.write(`${(error as Error).name}: ${(error as Error).message}\n`);
      return 1;
    }
  }
  if (command === 'explain-event') {
    const json = rest.includes('--json');
    const path = rest.find((a) => !a.startsWith('--'));
    if (!path) {
      process.stderr.write(`explain-event needs a file or - for standard input\n\n${usage}`);
      return 2;
    }
    let text: string;
    try {
      text = await readInput(path);
    } catch (error) {
      process.stderr.write(`cannot read ${path}: ${(error as Error).message}\n`);
      return 2;
    }
    const out = await explainEvent(text, { json, isWatched: await watchedLookup() });
    process.stdout.write(out.stdout);
    process.stderr.write(out.stderr);
    return out.exitCode;
  }
  if (command === 'knowledge') {
    try {
      const out = await runKnowledge(rest);
      process.stdout.write(out.stdout);
      process.stderr.write(out.stderr);
      return out.exitCode;
    } catch (error) {
      process.stderr.write(`${(error as Error).name}: ${(error as Error).message}\n`);
      return 1;
    }
  }
  if (command === 'approve' || command === 'reject') {
    try {
      const out = await approvalCommand(command, rest, await awsApprovalDeps());
      process.stdout.write(out.stdout);
      process.stderr.write(out.stderr);
      return out.exitCode;
    } catch (error) {
      process.stderr.write(`${(error as Error).name}: ${(error as Error).message}\n`);
      return 1;
    }
  }
  process.stderr.write(command && command !== '--help' ? `unknown command: ${command}\n\n${usage}` : usage);
  return command && command !== '--help' ? 2 : 0;
}

process.exitCode = await main(process.argv.slice(2));
// A database WebSocket still closing must not hold the terminal; stdout is already written.
setTimeout(() => process.exit(), 250).unref();
