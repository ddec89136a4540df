import {
  AccessDeniedException,
  type BedrockRuntimeClient,
  type ConverseCommand,
  type ConverseCommandOutput,
  ServiceQuotaExceededException,
  ThrottlingException,
  ValidationException,
} from '@aws-sdk/client-bedrock-runtime';
import { describe, expect, it } from 'vitest';
import { CircuitBreaker } from '../domain/circuit-breaker.ts';
import { answeredBy } from '../domain/diagnosis.ts';
import { evidence, healthyService, investigation, stopped } from '../testing/investigations.ts';
import { BedrockDiagnoser, type DiagnoserSettings } from './bedrock-diagnoser.ts';

const oom = investigation(
  healthyService(),
  evidence('stopped_tasks', { tasks: [stopped({ exitCodes: [137], stoppedReason: 'OutOfMemoryError' })] }),
);

type Step = Error | ConverseCommandOutput | ((signal?: AbortSignal) => Promise<ConverseCommandOutput>);

/** A Bedrock Runtime client that answers Converse from a script (errors thrown, replies returned), recording the calls. */
function fakeClient(script: Step[]) {
  const calls: { modelId?: string }[] = [];
  const client = {
    async send(command: ConverseCommand, options?: { abortSignal?: AbortSignal }) {
      calls.push({ modelId: command.input.modelId });
      const step = script.shift() ?? reply('I am not sure.');
      if (step instanceof Error) throw step;
      return typeof step === 'function' ? step(options?.abortSignal) : step;
    },
  } as unknown as BedrockRuntimeClient;
  return { client, calls };
}

const usage = { inputTokens: 1_200, outputTokens: 150, totalTokens: 1_350 };
const reply = (text: string): ConverseCommandOutput =>
  ({
    output: { message: { role: 'assistant', content: [{ text }] } },
    stopReason: 'end_turn',
    usage,
    metrics: { latencyMs: 5 },
    $metadata: {},
  }) as ConverseCommandOutput;
const submit: ConverseCommandOutput = {
  ...reply(''),
  output: {
    message: {
      role: 'assistant',
      content: [
        {
          toolUse: {
            toolUseId: 't1',
            name: 'submit_diagnosis',
            input: {
              hypotheses: [
                {
                  rootCause: 'oom',
                  component: 'api',
                  confidence: 0.9,
                  evidenceIds: ['stopped_tasks:1'],
                  explanation: 'killed for memory',
                },
              ],
              recommendedActions: ['increase_memory'],
              insufficientEvidence: false,
            },
          },
        },
      ],
    },
  },
  stopReason: 'tool_use',
};

const meta = (httpStatusCode: number, attempts = 1) => ({ $metadata: { httpStatusCode, attempts } });
const clock = { now: () => new Date() };
const settings: DiagnoserSettings = { fastModel: 'fast', strongModel: 'strong' };

describe('Bedrock diagnosis falls back to the offline rules', () => {
  it('answers with the model when it submits a valid diagnosis', async () => {
    const { client } = fakeClient([submit]);
    const diagnosis = await new BedrockDiagnoser(client, settings, new CircuitBreaker(clock)).diagnose(oom);
    expect(answeredBy(diagnosis)).toEqual({ answeredBy: 'bedrock', model: 'fast' });
    expect(diagnosis.fallbackCause).toBeUndefined();
  });

  it.each([
    [
      'access is denied (model access not granted)',
      new AccessDeniedException({
        message: "You don't have access to the model with the specified model ID.",
        ...meta(403),
      }),
      'access_denied',
      /^Bedrock fast: AccessDeniedException: You don't have access/,
    ],
    [
      'Bedrock still throttles after the SDK retries',
      new ThrottlingException({ message: 'Too many requests', ...meta(429, 5) }),
      'throttled',
      /ThrottlingException: Too many requests \(after 5 attempts\)$/,
    ],
    [
      'the account is over its quota',
      new ServiceQuotaExceededException({ message: 'quota exceeded', ...meta(400) }),
      'throttled',
      /ServiceQuotaExceededException/,
    ],
    [
      'the request is refused as made',
      new ValidationException({ message: "on-demand throughput isn't supported", ...meta(400) }),
      'rejected',
      /ValidationException/,
    ],
  ] as const)('when %s', async (_when, error, cause, reason) => {
    const { client, calls } = fakeClient([error]);
    const diagnosis = await new BedrockDiagnoser(client, settings, new CircuitBreaker(clock)).diagnose(oom);
    expect(calls).toHaveLength(1);
    expect(diagnosis).toMatchObject({ provider: 'offline', model: null, fallbackCause: cause, steps: 1 });
    expect(diagnosis.fallbackReason).toMatch(reason);
    // The offline rules answered: the OOM kill is still named.
    expect(diagnosis.hypotheses[0]?.rootCause).toBe('oom');
    expect(answeredBy(diagnosis)).toMatchObject({ answeredBy: 'offline', reason: cause });
  });

  it('leaves Bedrock alone after repeated denials or throttling, but not after refused requests', async () => {
    const breaker = new CircuitBreaker(clock, 2, 60_000);
    const denied = () => new AccessDeniedException({ message: 'no', ...meta(403) });
    const { client, calls } = fakeClient([denied(), denied()]);
    const diagnoser = new BedrockDiagnoser(client, settings, breaker);
    await diagnoser.diagnose(oom);
    await diagnoser.diagnose(oom);
    const third = await diagnoser.diagnose(oom);
    expect(calls).toHaveLength(2);
    expect(third).toMatchObject({ provider: 'offline', fallbackCause: 'circuit_open' });

    const refusing = new CircuitBreaker(clock, 2, 60_000);
    const bad = () => new ValidationException({ message: 'bad', ...meta(400) });
    const refused = fakeClient([bad(), bad(), bad()]);
    const again = new BedrockDiagnoser(refused.client, settings, refusing);
    for (let i = 0; i < 3; i++) await again.diagnose(oom);
    expect(refused.calls).toHaveLength(3);
    expect(refusing.isOpen()).toBe(false);
  });

  it('falls back when the step budget is spent', async () => {
    const { client, calls } = fakeClient([]);
    const diagnosis = await new BedrockDiagnoser(
      client,
      { ...settings, maxSteps: 2 },
      new CircuitBreaker(clock),
    ).diagnose(oom);
    expect(calls).toHaveLength(2);
    expect(diagnosis).toMatchObject({
      fallbackCause: 'budget',
      fallbackReason: 'no diagnosis within 2 steps',
    });
  });

  it('falls back before a call that would pass the input token cap, with the tokens it cost', async () => {
    const { client, calls } = fakeClient([]);
    const diagnosis = await new BedrockDiagnoser(
      client,
      { ...settings, maxInputTokens: 3_000, prices: { fast: { inputPer1k: 0.001, outputPer1k: 0.005 } } },
      new CircuitBreaker(clock),
    ).diagnose(oom);
    // 1,200 + 1,200 spent; a third request (at least 1,200 more) would pass 3,000, so it is not made.
    expect(calls).toHaveLength(2);
    expect(diagnosis).toMatchObject({
      provider: 'offline',
      fallbackCause: 'budget',
      fallbackReason: 'token budget spent before a diagnosis',
      tokens: { input: 2_400, output: 300 },
    });
    expect(diagnosis.costUsd).toBeCloseTo(2.4 * 0.001 + 0.3 * 0.005, 6);
  });

  it('falls back when the wall-clock budget is spent between calls', async () => {
    let now = 0;
    const { client, calls } = fakeClient([
      async () => {
        now += 61_000; // a slow answer
        return reply('thinking');
      },
    ]);
    const diagnosis = await new BedrockDiagnoser(
      client,
      settings,
      new CircuitBreaker(clock),
      () => now,
    ).diagnose(oom);
    expect(calls).toHaveLength(1);
    expect(diagnosis).toMatchObject({ fallbackCause: 'timeout', fallbackReason: 'diagnosis timed out' });
  });

  it('cuts a call in flight at the deadline and falls back', async () => {
    const hang = (signal?: AbortSignal) =>
      new Promise<ConverseCommandOutput>((_, reject) =>
        signal?.addEventListener('abort', () =>
          reject(Object.assign(new Error('Request aborted'), { name: 'AbortError' })),
        ),
      );
    const { client } = fakeClient([hang]);
    const started = Date.now();
    const diagnosis = await new BedrockDiagnoser(
      client,
      { ...settings, timeoutMs: 50 },
      new CircuitBreaker(clock),
    ).diagnose(oom);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(diagnosis).toMatchObject({ provider: 'offline', fallbackCause: 'timeout' });
    expect(diagnosis.fallbackReason).toMatch(/AbortError/);
  });
});
