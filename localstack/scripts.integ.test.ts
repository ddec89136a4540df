import { spawn } from 'node:child_process';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { projectRoot, waitFor } from './harness.ts';
import {
  type IsolatedHarness,
  isolatedHarness,
  killRecordedIn,
  leftBehindIn,
  listenOnFreePort,
} from './harness-testing.ts';

/** `localstack/<script>` as its npm script runs it (tsx), in the isolated set-up; `onStarted` gets the process. */
function runLocalScript(
  script: string,
  { env }: IsolatedHarness,
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
      killRecordedIn(dir);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.each(['scenarios.ts', 'demo.ts'])(
    '%s stops the emulator it started when the database cannot start (its port is taken)',
    async (script) => {
      const taken = await listenOnFreePort();
      try {
        const run = await isolatedHarness({ pgPort: taken.port });
        dirs.push(run.dir);
        const { code, output } = await runLocalScript(script, run);
        expect(output).toContain('emulator (MiniStack) starting');
        expect(output).toContain(`ports ${taken.port} (Postgres)`);
        expect(code).toBe(2);
        expect(await leftBehindIn(run, [taken.port])).toEqual({ alive: [], listening: [] });
      } finally {
        await new Promise((resolve) => taken.server.close(resolve));
      }
    },
    180_000,
  );

  it('scenarios.ts stops what it started when it gets SIGTERM while the emulator is starting', async () => {
    const run = await isolatedHarness();
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
        const now = await leftBehindIn(run);
        return now.alive.length === 0 && now.listening.length === 0 && now;
      },
      { timeoutMs: 15_000 },
    ).catch(() => leftBehindIn(run));
    expect(left).toEqual({ alive: [], listening: [] });
    expect(readdirSync(run.dir).filter((f) => f.endsWith('.pid.json'))).toEqual([]);
  }, 180_000);
});
