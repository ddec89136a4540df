import { DeleteParametersCommand, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { emulatorClientConfig, emulatorEndpoint, uniqueName } from '../../localstack/testing.ts';
import { chaosParametersPath, settingsParameterName } from '../config/settings-parameters.ts';
import { ConfigurationError } from '../domain/errors.ts';
import { chaosWiring } from './chaos-wiring.ts';
import { readChaosParameters, readLearningConfig, readRemediationSettings } from './settings-parameters.ts';

/**
 * The settings the deploy writes to SSM, read back through the real wirings (Powertools
 * Parameters against the emulator's SSM): experiments one parameter each, a malformed one
 * skipped with its reason, a changed one seen once the cache age has passed.
 */
describe('settings parameters', () => {
  const ssm = new SSMClient(emulatorClientConfig());
  const busName = uniqueName('settings-test');
  const path = chaosParametersPath(busName);
  const written: string[] = [];
  const put = async (name: string, value: unknown) => {
    await ssm.send(
      new PutParameterCommand({
        Name: name,
        Value: typeof value === 'string' ? value : JSON.stringify(value),
        Type: 'String',
        Overwrite: true,
      }),
    );
    written.push(name);
  };
  const experiment = (name: string, extra: Record<string, unknown> = {}) => ({
    name,
    target: { cluster: 'shop', service: 'api' },
    fault: { kind: 'stop_tasks', share: 0.25 },
    ...extra,
  });

  beforeAll(async () => {
    await put(`${path}/settings`, { guardrails: { maxConcurrent: 2 }, revert: { maxAttempts: 4 } });
    await put(`${path}/experiments/kill-a-quarter`, experiment('kill-a-quarter'));
    await put(
      `${path}/experiments/cpu-burn`,
      experiment('cpu-burn', {
        fault: { kind: 'fis', action: 'cpu_stress', stopAlarms: ['shop-5xx'] },
        fisTemplateId: 'EXT123',
      }),
    );
    // Malformed: scale_to without desiredCount; not JSON; named differently from its parameter.
    await put(`${path}/experiments/scale-down`, experiment('scale-down', { fault: { kind: 'scale_to' } }));
    await put(`${path}/experiments/garbled`, '{"name": "garbled", ');
    await put(`${path}/experiments/misnamed`, experiment('someone-else'));
  });

  afterAll(async () => {
    for (let i = 0; i < written.length; i += 10)
      await ssm.send(new DeleteParametersCommand({ Names: written.slice(i, i + 10) })).catch(() => {});
  });

  it('gives the chaos agent every valid experiment, skips each malformed one with its reason, and sees a change after the cache age', async () => {
    vi.stubEnv('AWS_ENDPOINT_URL', emulatorEndpoint());
    vi.stubEnv('AWS_REGION', emulatorClientConfig().region);
    vi.stubEnv('AWS_ACCESS_KEY_ID', emulatorClientConfig().credentials.accessKeyId);
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', emulatorClientConfig().credentials.secretAccessKey);
    vi.stubEnv('DATABASE_URL', 'postgres://unused@127.0.0.1:9/none');
    vi.stubEnv('HOMEOSTAT_BUS_NAME', busName);
    vi.stubEnv('HOMEOSTAT_DEAD_LETTER_QUEUE_URL', 'http://127.0.0.1:9/queue');
    vi.stubEnv('HOMEOSTAT_KILL_SWITCH_PARAMETER', `/${busName}/kill-switch`);
    vi.stubEnv('HOMEOSTAT_SCHEDULER_ROLE_ARN', 'arn:aws:iam::000000000000:role/scheduler');
    vi.stubEnv('HOMEOSTAT_CHAOS_FUNCTION_ARN', 'arn:aws:lambda:us-east-1:000000000000:function:chaos');
    vi.stubEnv('HOMEOSTAT_CHAOS_PARAMETERS_PATH', path);
    try {
      const wiring = chaosWiring({ maxAgeSeconds: 1 });
      const warn = vi.fn();
      const first = await wiring.chaos({ warn });
      expect(first.experiments.map((e) => e.name)).toEqual(['cpu-burn', 'kill-a-quarter']);
      expect(first.settings.guardrails).toMatchObject({ maxConcurrent: 2, maxTaskShare: 0.5 });
      expect(first.settings.revert).toEqual({ maxAttempts: 4, retrySeconds: 60 });
      expect(first.fisTemplates).toEqual({ 'cpu-burn': 'EXT123' });
      expect(warn).toHaveBeenCalledTimes(1);
      const skipped = warn.mock.calls[0]?.[1].skipped as { parameter: string; reason: string }[];
      expect(Object.fromEntries(skipped.map((s) => [s.parameter.slice(path.length + 1), s.reason]))).toEqual({
        'experiments/garbled': 'not JSON',
        'experiments/misnamed': `holds experiment "someone-else"; expected ${path}/experiments/someone-else`,
        'experiments/scale-down': expect.stringMatching(/^fault\.desiredCount: /),
      });

      // Within the cache age: the same values, and the skipped ones are not reported again.
      await put(`${path}/experiments/kill-a-quarter`, experiment('kill-a-quarter', { durationMinutes: 5 }));
      const cached = await wiring.chaos({ warn });
      expect(cached.experiments.find((e) => e.name === 'kill-a-quarter')?.durationMinutes).toBe(15);
      expect(warn).toHaveBeenCalledTimes(1);

      // After it: the changed experiment.
      await vi.waitFor(
        async () => {
          const later = await wiring.chaos({ warn });
          expect(later.experiments.find((e) => e.name === 'kill-a-quarter')?.durationMinutes).toBe(5);
        },
        { timeout: 5_000, interval: 250 },
      );
      expect(warn).toHaveBeenCalledTimes(2);
    } finally {
      vi.unstubAllEnvs();
    }
  });

  it('refuses chaos without a valid settings parameter: no guardrails, no chaos', async () => {
    const bare = chaosParametersPath(uniqueName('settings-bare'));
    await put(`${bare}/experiments/kill-a-quarter`, experiment('kill-a-quarter'));
    await expect(readChaosParameters(ssm, bare, { maxAgeSeconds: 0 })).rejects.toThrow(
      new ConfigurationError(`parameter ${bare}/settings does not exist`),
    );
    await put(`${bare}/settings`, { guardrails: { maxTaskShare: 2 } });
    await expect(readChaosParameters(ssm, bare, { maxAgeSeconds: 0 })).rejects.toThrow(
      /parameter .*\/settings: guardrails\.maxTaskShare/,
    );
  });

  it('reads the remediation and learning settings, validated, and sees a change after the cache age', async () => {
    const remediation = settingsParameterName(busName, 'remediation');
    const learning = settingsParameterName(busName, 'learning');
    await expect(readRemediationSettings(ssm, remediation)).rejects.toThrow(
      new ConfigurationError(`parameter ${remediation} does not exist`),
    );
    await put(remediation, { defaultAutonomy: 'auto', settleSeconds: 30 });
    await put(learning, { recurrenceCount: 4 });
    expect(await readRemediationSettings(ssm, remediation, { maxAgeSeconds: 1 })).toMatchObject({
      defaultAutonomy: 'auto',
      verification: { settleMs: 30_000 },
    });
    expect((await readLearningConfig(ssm, learning, { maxAgeSeconds: 1 })).recurrenceCount).toBe(4);

    await put(remediation, { defaultAutonomy: 'observe' });
    expect((await readRemediationSettings(ssm, remediation, { maxAgeSeconds: 1 })).defaultAutonomy).toBe(
      'auto',
    );
    await vi.waitFor(
      async () =>
        expect((await readRemediationSettings(ssm, remediation, { maxAgeSeconds: 1 })).defaultAutonomy).toBe(
          'observe',
        ),
      { timeout: 5_000, interval: 250 },
    );

    await put(learning, { recurrenceCount: 1 });
    await expect(readLearningConfig(ssm, learning, { maxAgeSeconds: 0 })).rejects.toThrow(
      /parameter .*\/settings\/learning: recurrenceCount/,
    );
    await put(learning, 'not json');
    await expect(readLearningConfig(ssm, learning, { maxAgeSeconds: 0 })).rejects.toThrow(
      new ConfigurationError(`parameter ${learning} does not hold JSON`),
    );
  });
});
