import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../../localstack/harness.ts';
import { emulatorEndpoint } from '../../localstack/testing.ts';

const run = promisify(execFile);

/** The CLI as a process against the emulator: a stack that does not exist is a clear error. */
describe('homeostat approve (process)', () => {
  it('says the stack does not exist and exits 1', async () => {
    const failure = await run(
      process.execPath,
      [
        '--import',
        'tsx',
        join(projectRoot, 'shared', 'cli', 'homeostat.ts'),
        'approve',
        'inc-1',
        '--stack',
        'NoSuchStack',
      ],
      {
        cwd: projectRoot,
        env: {
          ...process.env,
          AWS_ENDPOINT_URL: emulatorEndpoint(),
          AWS_REGION: 'us-east-1',
          AWS_ACCESS_KEY_ID: 'test',
          AWS_SECRET_ACCESS_KEY: 'test',
        },
      },
    ).then(
      () => null,
      (error: { code: number; stderr: string }) => error,
    );
    expect(failure?.code).toBe(1);
    expect(failure?.stderr).toBe(
      'Stack NoSuchStack not found in us-east-1: deploy it or pass --stack NAME (or set HOMEOSTAT_STACK).\n',
    );
  });
});
