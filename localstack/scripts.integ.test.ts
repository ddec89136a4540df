import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { portListening, projectRoot, waitFor } from './harness.ts';

/** Listens on a port the OS picks; the caller closes it. */
async function listen(): Promise<{ server: Server; port: number }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  return { server, port: address.port };
}

async function freePort(): Promise<number> {
  const { server, port } = await listen();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

interface Isolated {
  dir: string;
  env: NodeJS.ProcessEnv;
  /** Every port the run may serve on: the emulator's and the database's. */
  ports: number[];
}

/** A local directory and ports of its own, so the run under test shares nothing with the test emulator. */
async function isolated(dbPort: number): Promise<Isolated> {
  const dir = mkdtempSync(join(tmpdir(), 'homeostat-run-'));
  const [emulatorPort, proxyPort] = await Promise.all([freePort(), freePort()]);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HOMEOSTAT_LOCAL_DIR: dir,
    HOMEOSTAT_EMULATOR_PORT: String(emulatorPort),
    HOMEOSTAT_DB_PORT: String(dbPort),
    HOMEOSTAT_DB_PROXY_PORT: String(proxyPort),
  };
  delete env.AWS_ENDPOINT_URL; // start an emulator of its own, on emulatorPort
  return { dir, env, ports: [emulatorPort, dbPort, proxyPort] };
}

/** `localstack/<script>` as its npm script runs it (tsx), in the isolated set-up; `onStarted` gets the process. */
function runLocalScript(
  script: string,
  { env }: Isolated,
  onStarted?: (child: ReturnType<typeof spawn>) => void,
): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(projectRoot, 'localstack', script)], {
    cwd: projectRoot,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk) => {
    output += chunk;
  });
  child.stderr.on('data', (chunk) => {
    output += chunk;
  });
  onStarted?.(child);
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, output })));
}

/** The pids recorded in the run's local directory that are still alive, and its ports that still listen. */
async function leftovers({ dir, ports }: Isolated, except: number[] = []) {
  const records = readdirSync(dir)
    .filter((f) => f.endsWith('.pid.json'))
    .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as { pid: number; ports?: number[] });
  const watched = [...new Set([...ports, ...records.flatMap((r) => r.ports ?? [])])].filter(
    (p) => !except.includes(p),
  );
  const listening: number[] = [];
  for (const port of watched) if (await portListening(port)) listening.push(port);
  return { alive: records.filter((r) => alive(r.pid)).map((r) => r.pid), listening };
}

/** Kills whatever a failing run left, so a failure here does not leak into the next test. */
function killRecorded(dir: string): void {
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.pid.json'))) {
    const { pid } = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { pid: number };
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
}

/**
 * `npm run scenarios` and `npm run demo` stop what they started on their failure paths: the
 * emulator they started when the local database cannot start, and everything when stopped
 * by SIGTERM while starting. Each run gets its own emulator port, database ports and local
 * directory, so it shares nothing with the test emulator.
 */
describe('a scenario run or demo leaves nothing running when it fails', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const dir of dirs) {
      killRecorded(dir);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.each(['scenarios.ts', 'demo.ts'])(
    '%s stops the emulator it started when the database cannot start (its port is taken)',
    async (script) => {
      const taken = await listen();
      try {
        const run = await isolated(taken.port);
        dirs.push(run.dir);
        const { code, output } = await runLocalScript(script, run);
        expect(output).toContain('emulator (MiniStack) starting');
        expect(output).toContain(`ports ${taken.port} (Postgres)`);
        expect(code).toBe(2);
        expect(await leftovers(run, [taken.port])).toEqual({ alive: [], listening: [] });
      } finally {
        await new Promise((resolve) => taken.server.close(resolve));
      }
    },
    180_000,
  );

  it('scenarios.ts stops what it started when it gets SIGTERM while the emulator is starting', async () => {
    const run = await isolated(await freePort());
    dirs.push(run.dir);
    const { code } = await runLocalScript('scenarios.ts', run, (child) => {
      // As soon as the emulator is recorded (spawned, not yet answering), interrupt the run.
      void waitFor('the emulator record', async () => existsSync(join(run.dir, 'emulator.pid.json')), {
        timeoutMs: 60_000,
        intervalMs: 50,
      }).then(() => child.kill('SIGTERM'));
    });
    expect(code).toBe(143);
    // SIGTERM went to the emulator's process group; give it a moment to go.
    const left = await waitFor(
      'the emulator to exit',
      async () => {
        const now = await leftovers(run);
        return now.alive.length === 0 && now.listening.length === 0 && now;
      },
      { timeoutMs: 15_000 },
    ).catch(() => leftovers(run));
    expect(left).toEqual({ alive: [], listening: [] });
    expect(readdirSync(run.dir).filter((f) => f.endsWith('.pid.json'))).toEqual([]);
  }, 180_000);
});
