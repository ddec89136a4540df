/**
 * The operator CLI: `npx homeostat <command>`. Commands grow with the loop;
 * today: explain-event.
 */
import { readFile } from 'node:fs/promises';
import { explainEvent } from './explain-event.ts';

const usage = `usage: homeostat <command>

commands:
  explain-event <file|->  [--json]   how Homeostat interprets one raw EventBridge event
                                     (DATABASE_URL set: also whether the service is watched)
`;

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
  process.stderr.write(command && command !== '--help' ? `unknown command: ${command}\n\n${usage}` : usage);
  return command && command !== '--help' ? 2 : 0;
}

process.exitCode = await main(process.argv.slice(2));
