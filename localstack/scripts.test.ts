import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { projectRoot } from './harness.ts';
import { freePort, isolatedHarness, killRecordedIn, leftBehindIn } from './harness-testing.ts';
import { isEntryScript } from './script.ts';

/** Modules that only make sense inside vitest (they call its `inject`). */
const vitestOnly = new Set(['localstack/testing.ts', 'localstack/test-setup.ts']);

/** Every module directly under localstack/ and infra/ except tests: the npm scripts and what they import. */
const modules = ['localstack', 'infra']
  .flatMap((dir) => readdirSync(join(projectRoot, dir)).map((file) => `${dir}/${file}`))
  .filter((file) => file.endsWith('.ts') && !file.endsWith('.test.ts') && !vitestOnly.has(file))
  .sort();

interface Imported {
  code: number | null;
  /** Still running after the deadline: it started something that keeps it alive. */
  hung: boolean;
  output: string;
}

/** Imports `file` in a fresh node (tsx) process, as a test would; waits up to `timeoutMs` for it to exit. */
function importInChild(file: string, env: NodeJS.ProcessEnv, timeoutMs: number): Promise<Imported> {
  const child: ChildProcess = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      '--input-type=module',
      '-e',
      `await import(${JSON.stringify(pathToFileURL(join(projectRoot, file)).href)})`,
    ],
    { cwd: projectRoot, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout?.on('data', (chunk) => {
    output += chunk;
  });
  child.stderr?.on('data', (chunk) => {
    output += chunk;
  });
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      if (child.pid) process.kill(-child.pid, 'SIGKILL'); // the whole group: whatever it started too
      resolve({ code: null, hung: true, output });
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, hung: false, output });
    });
  });
}

describe('scripts act only when run, never when imported', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('covers every tsx script package.json runs', () => {
    const scripts = Object.values(
      (
        JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8')) as {
          scripts: Record<string, string>;
        }
      ).scripts,
    );
    const run = scripts.flatMap((line) => [...line.matchAll(/\btsx\s+(\S+\.ts)/g)].map((m) => m[1]));
    expect(run.length).toBeGreaterThanOrEqual(9);
    for (const file of run) expect(modules).toContain(file);
    expect(modules).toContain('localstack/db-daemon.ts'); // what local:up spawns
  });

  it('tells the entry script from an imported module', () => {
    const self = pathToFileURL(join(projectRoot, 'localstack/script.ts')).href;
    expect(isEntryScript(self, join(projectRoot, 'localstack/script.ts'))).toBe(true);
    expect(isEntryScript(self, relative(process.cwd(), join(projectRoot, 'localstack/script.ts')))).toBe(
      true,
    );
    expect(isEntryScript(self, join(projectRoot, 'localstack/scenarios.ts'))).toBe(false);
    expect(isEntryScript(self, undefined)).toBe(false);
  });

  it.concurrent.each(modules)(
    'importing %s starts, prints and records nothing',
    async (file) => {
      // Everything a script could start goes to a directory and ports of its own, not the shared ones;
      // an emulator that does not answer makes a script that reaches for one fail at once.
      const harness = await isolatedHarness({
        env: { AWS_ENDPOINT_URL: `http://127.0.0.1:${await freePort()}`, DATABASE_URL: '', BENCH_RUNS: '1' },
      });
      dirs.push(harness.dir);
      const imported = await importInChild(file, harness.env, 45_000);
      try {
        expect({
          hung: imported.hung,
          code: imported.code,
          output: imported.output,
          localDir: readdirSync(harness.dir),
          listening: (await leftBehindIn(harness)).listening,
        }).toEqual({ hung: false, code: 0, output: '', localDir: [], listening: [] });
      } finally {
        killRecordedIn(harness.dir);
      }
    },
    60_000,
  );
});
