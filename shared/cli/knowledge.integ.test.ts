import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMigratedDatabase, type TestDatabase } from '../../localstack/testing.ts';
import { PostgresKnowledgeStore } from '../adapters/knowledge-store.ts';
import { bundledRunbooksDir, readRunbookDir } from '../adapters/runbook-files.ts';
import { EmbeddingModels, HashingEmbedder } from '../domain/embedding.ts';
import { type KnowledgeCliDeps, knowledgeCommand } from './knowledge.ts';

const bin = join(import.meta.dirname, 'homeostat.mjs');

/** Runs the real CLI binary; resolves with its exit code and output. */
function homeostat(args: string[], env: Record<string, string>) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], { env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('homeostat knowledge', () => {
  let database: TestDatabase;
  let deps: KnowledgeCliDeps;
  const progress: string[] = [];

  beforeAll(async () => {
    database = await startMigratedDatabase();
    deps = {
      store: new PostgresKnowledgeStore(database.pool),
      embeddings: new EmbeddingModels(new HashingEmbedder()),
      readRunbooks: readRunbookDir,
      progress: (line) => progress.push(line),
    };
  });
  afterAll(async () => database?.stop());

  it('ingests a folder of runbooks with progress, then searches it', async () => {
    const ingest = await knowledgeCommand(['ingest', bundledRunbooksDir], deps);
    expect(ingest.exitCode).toBe(0);
    expect(ingest.stdout).toMatch(
      /^ingested 12 runbook\(s\) as \d+ chunk\(s\); embedded \d+ by homeostat-hash-v1/,
    );
    expect(progress[0]).toMatch(/^reading runbooks in/);
    const search = await knowledgeCommand(['search', 'CannotPullContainerError', '--limit', '2'], deps);
    expect(search.exitCode).toBe(0);
    expect(search.stdout.split('\n')[1]).toMatch(/1\. image-pull-failure#\d+ +Image cannot be pulled/);
    const json = JSON.parse(
      (await knowledgeCommand(['search', 'exit code 137 memory', '--json'], deps)).stdout,
    );
    expect(json.runbooks[0].node.payload.runbook).toBe('oom');
  });

  it('prints stats as a table or JSON', async () => {
    const table = await knowledgeCommand(['stats'], deps);
    expect(table.stdout).toMatch(/^runbooks +12$/m);
    expect(JSON.parse((await knowledgeCommand(['stats', '--json'], deps)).stdout).nodes.problem).toBe(12);
  });

  it('answers bad usage and bad runbooks with a clear message and a non-zero exit', async () => {
    expect(await knowledgeCommand(['search'], deps)).toMatchObject({
      exitCode: 2,
      stderr: expect.stringMatching(/needs some text/),
    });
    expect((await knowledgeCommand(['search', 'x', '--limit', '0'], deps)).stderr).toMatch(
      /--limit must be 1–50/,
    );
    expect((await knowledgeCommand(['frobnicate'], deps)).stderr).toMatch(
      /unknown knowledge command: frobnicate/,
    );
    const dir = mkdtempSync(join(tmpdir(), 'runbooks-'));
    writeFileSync(join(dir, 'latin1.md'), Buffer.from([0x23, 0x20, 0x63, 0x61, 0x66, 0xe9, 0x0a]));
    writeFileSync(join(dir, 'unknown.md'), '---\nactions: [reboot_everything]\n---\n# x\n');
    const bad = await knowledgeCommand(['ingest', dir], deps);
    expect(bad.exitCode).toBe(1);
    expect(bad.stderr).toMatch(
      /2 runbook file\(s\) rejected: .*latin1\.md: not valid UTF-8; .*unknown\.md: "reboot_everything" is not an action/,
    );
  });

  it('runs as `npx homeostat knowledge …` against the database, and explains missing configuration', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'runbooks-'));
    writeFileSync(
      join(dir, 'disk.md'),
      '---\ncategories: [capacity_shortfall]\nactions: [escalate]\n---\n# Ephemeral storage full\n\nTasks stop with "no space left on device".\n',
    );
    const env = { DATABASE_URL: database.db.url, DATABASE_WS_PROXY: database.db.wsProxy };
    const ingest = await homeostat(['knowledge', 'ingest', dir], env);
    expect(ingest.stderr).toMatch(/embedding and storing 1 runbook/);
    expect(ingest.code).toBe(0);
    const search = await homeostat(['knowledge', 'search', 'no space left on device', '--json'], env);
    expect(search.code).toBe(0);
    expect(JSON.parse(search.stdout).runbooks[0].node.key).toBe('disk#0');
    const unconfigured = await homeostat(['knowledge', 'stats'], {
      DATABASE_URL: '',
      DATABASE_URL_SECRET_ID: '',
    });
    expect(unconfigured.code).toBe(1);
    expect(unconfigured.stderr).toMatch(/^No database URL: set DATABASE_URL .* or DATABASE_URL_SECRET_ID/);
  });
});
