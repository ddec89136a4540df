import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runHomeostat } from '../testing/cli-process.ts';
import { taskStoppedEvent } from '../testing/ecs-events.ts';
import {
  configMessages,
  defaultStack,
  explainConfigError,
  MissingConfigurationError,
  stackName,
  withoutStack,
} from './cli-config.ts';

/** An empty home: no ~/.aws/config or credentials can leak in from the machine running the tests. */
const home = mkdtempSync(join(tmpdir(), 'homeostat-empty-home-'));

/** The real CLI as a process with nothing configured: the environment holds only HOME (an empty folder) and what a test adds. */
const bareCli = (args: string[], env: Record<string, string> = {}) =>
  runHomeostat(args, { HOME: home, ...env });

describe('every command with nothing configured (the real CLI, empty environment)', () => {
  it.each([
    [['incidents'], configMessages.database],
    [['show', 'inc-1'], configMessages.database],
    [['autonomy', 'recommendations'], configMessages.database],
    [['report'], configMessages.database],
    [['chaos', 'list'], configMessages.database],
    [['knowledge', 'stats'], configMessages.database],
    [['kill-switch', 'status'], configMessages.region],
    [['chaos', 'run', 'cpu-stress'], configMessages.region],
    [['approve', 'inc-1'], configMessages.region],
    [['reject', 'inc-1'], configMessages.region],
    [['dlq', 'list', 'diagnose'], configMessages.region],
    [['dlq', 'redrive', 'perceive', '--dry-run'], configMessages.region],
    [['mcp'], configMessages.region],
  ])('homeostat %j says in one sentence what to set', async (args, sentence) => {
    const out = await bareCli(args);
    expect(out.code).toBe(1);
    // The last line is the sentence (report says what it is reading first); no stack trace.
    expect(out.stderr.trimEnd().split('\n').at(-1)).toBe(sentence);
    expect(out.stderr).not.toMatch(/^\s+at /m);
    expect(out.stdout).toBe('');
  });

  it('with a region but no credentials, says which credentials to set', async () => {
    for (const args of [
      ['dlq', 'list', 'diagnose'],
      ['approve', 'inc-1'],
    ]) {
      const out = await bareCli(args, { AWS_REGION: 'eu-west-1', AWS_EC2_METADATA_DISABLED: 'true' });
      expect(out.code).toBe(1);
      expect(out.stderr).toBe(`${configMessages.credentials}\n`);
    }
  });

  it('with DATABASE_URL_SECRET_ID but no region, names the region', async () => {
    const out = await bareCli(['incidents'], { DATABASE_URL_SECRET_ID: 'homeostat/database-url' });
    expect(out.code).toBe(1);
    expect(out.stderr).toBe(`${configMessages.region}\n`);
  });

  it('explain-event needs no configuration', async () => {
    const file = join(home, 'event.json');
    writeFileSync(file, JSON.stringify(taskStoppedEvent({ cluster: 'shop', service: 'api' })));
    const out = await bareCli(['explain-event', file]);
    expect(out.code).toBe(0);
    expect(out.stdout).toContain('shop');
  });
});

describe('stackName', () => {
  it('takes --stack, then HOMEOSTAT_STACK, then the default', () => {
    expect(stackName(['incidents', '--stack', 'Mine'], { HOMEOSTAT_STACK: 'Env' })).toBe('Mine');
    expect(stackName(['incidents'], { HOMEOSTAT_STACK: 'Env' })).toBe('Env');
    expect(stackName(['incidents'], {})).toBe(defaultStack);
    expect(withoutStack(['a', '--stack', 'Mine', 'b'])).toEqual(['a', 'b']);
  });
});

describe('explainConfigError', () => {
  it("turns the SDK's missing-configuration errors into the sentences", () => {
    expect(explainConfigError(new Error('Region is missing'))).toBe(configMessages.region);
    expect(
      explainConfigError(
        Object.assign(new Error('Could not load credentials'), { name: 'CredentialsProviderError' }),
      ),
    ).toBe(configMessages.credentials);
    const refused = Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    expect(explainConfigError(refused, { AWS_ENDPOINT_URL: 'http://127.0.0.1:4566' })).toBe(
      configMessages.endpoint('http://127.0.0.1:4566'),
    );
    expect(explainConfigError(refused, {})).toBeUndefined();
    expect(explainConfigError(new MissingConfigurationError('Set X.'))).toBe('Set X.');
    expect(explainConfigError(new Error('something else'))).toBeUndefined();
  });
});
