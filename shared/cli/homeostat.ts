/**
 * The operator CLI: `npx homeostat <command>`. Commands grow with the loop;
 * today: explain-event, knowledge, approve and reject.
 */
import { readFile } from 'node:fs/promises';
import { approvalCommand, approvalUsage, awsApprovalDeps } from './approve.ts';
import { explainEvent } from './explain-event.ts';
import { knowledgeUsage } from './knowledge.ts';

const usage = `usage: homeostat <command>

commands:
  explain-event <file|->  [--json]   how Homeostat interprets one raw EventBridge event
                                     (DATABASE_URL set: also whether the service is watched)
${knowledgeUsage}${approvalUsage}
The approval commands use the usual AWS profile/region variables (AWS_ENDPOINT_URL for the
local stack). The knowledge commands need the database: DATABASE_URL (+ DATABASE_WS_PROXY for the local
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

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
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
