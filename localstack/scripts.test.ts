import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { portListening, projectRoot } from './harness.ts';
import { isEntryScript } from './script.ts';

/** Modules that only make sense inside vitest (they call its `inject`). */
const vitestOnly = new Set(['localstack/testing.ts', 'localstack/test-setup.ts']);

/** Every module directly under localstack/ and infra/ except tests: the npm scripts and what they import. */
const modules = ['localstack', 'infra']
  .flatMap((dir) => readdirSync(join(projectRoot, dir)).map((file) => `${dir}/${file}`))
  .filter((file) => file.endsWith('.ts') && !file.endsWith('.test.ts') && !vitestOnly.has(file))
  .sort();

/** A port nothing listens on now (the OS picks it). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

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

/** Stops any process a misbehaving import recorded in its local directory, so a failure leaves nothing behind. */
function stopRecordedIn(dir: string): void {
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.pid.json'))) {
    const { pid } = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { pid: number };
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
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
      const dir = mkdtempSync(join(tmpdir(), 'homeostat-import-'));
      dirs.push(dir);
      const [emulatorPort, pgPort, proxyPort, deadPort] = await Promise.all([
        freePort(),
        freePort(),
        freePort(),
        freePort(),
      ]);
      const env: NodeJS.ProcessEnv = {
        ...process.env,
        // Everything a script could start goes to this directory and these ports, not the shared ones.
        HOMEOSTAT_LOCAL_DIR: dir,
        HOMEOSTAT_EMULATOR_PORT: String(emulatorPort),
        HOMEOSTAT_DB_PORT: String(pgPort),
        HOMEOSTAT_DB_PROXY_PORT: String(proxyPort),
        // An emulator that does not answer: a script that reaches for one fails at once.
        AWS_ENDPOINT_URL: `http://127.0.0.1:${deadPort}`,
        DATABASE_URL: '',
        BENCH_RUNS: '1',
      };
      const imported = await importInChild(file, env, 45_000);
      try {
        const listening = [];
        for (const port of [emulatorPort, pgPort, proxyPort])
          if (await portListening(port)) listening.push(port);
        expect({
          hung: imported.hung,
          code: imported.code,
          output: imported.output,
          localDir: readdirSync(dir),
          listening,
        }).toEqual({ hung: false, code: 0, output: '', localDir: [], listening: [] });
      } finally {
        stopRecordedIn(dir);
      }
    },
    60_000,
  );
});
