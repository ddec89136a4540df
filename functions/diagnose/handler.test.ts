import { Metrics } from '@aws-lambda-powertools/metrics';
import { describe, expect, it } from 'vitest';
import type { Diagnoser } from '#shared/domain/diagnosis.ts';
import { DependencyUnavailableError } from '#shared/domain/errors.ts';
import { offlineDiagnoser } from '#shared/domain/pre-analysis.ts';
import { buildEnvelope } from '#shared/events/envelope.ts';
import { FakeBus, FakeCounters, FakeDeadLetters, fixedClock } from '#shared/testing/fakes.ts';
import { capturingLogger, lambdaContext } from '#shared/testing/logging.ts';
import type { DiagnosisStore, DiagnosisToRecord } from '#shared/usecases/diagnose.ts';
import { createHandler, recordAnswer } from './handler.ts';

const incident = {
  id: 'inc-1',
  service: { cluster: 'shop', service: 'api' },
  state: 'diagnosing' as const,
  version: 2,
  title: 'api-memory-high',
  fingerprint: 'fp',
  openedAt: new Date('2026-11-20T10:00:00Z'),
  lastSignalAt: new Date('2026-11-20T10:00:00Z'),
  signalCount: 1,
  chaosExperimentId: null,
  serviceSnapshot: null,
};

/** Keeps what it is asked to record; `failWith` makes begin() fail. */
class MemoryDiagnosisStore implements DiagnosisStore {
  recorded: DiagnosisToRecord[] = [];
  constructor(private readonly failWith?: Error) {}
  async begin() {
    if (this.failWith) throw this.failWith;
    return { kind: 'started' as const, incident };
  }
  async record(input: DiagnosisToRecord) {
    this.recorded.push(input);
    return { recorded: true, pending: input.envelopes };
  }
  async markPublished() {}
  async beginRevision() {
    return { kind: 'skipped' as const, reason: 'not revised here', pending: [] };
  }
  async revise() {
    return { recorded: false, pending: [] };
  }
}

const opened = {
  source: 'homeostat.perceive',
  'detail-type': 'incident.opened',
  detail: buildEnvelope({
    type: 'incident.opened',
    source: 'homeostat.perceive',
    time: new Date('2026-11-20T10:00:00Z'),
    causationId: 'signal-1',
    incidentId: 'inc-1',
    data: {
      incidentId: 'inc-1',
      service: { cluster: 'shop', service: 'api' },
      title: 'api-memory-high',
      fingerprint: 'fp',
      firstSignalId: 'signal-1',
      openedAt: '2026-11-20T10:00:00Z',
      chaosExperimentId: null,
      serviceSnapshot: null,
    },
  }),
};

function setup(store = new MemoryDiagnosisStore(), diagnoser: Diagnoser = offlineDiagnoser) {
  const { logger, lines } = capturingLogger();
  const bus = new FakeBus();
  const deadLetters = new FakeDeadLetters();
  const counters = new FakeCounters();
  const metrics = new Metrics({ namespace: 'test', serviceName: 'test' });
  const handler = createHandler(
    async () => ({
      store,
      tools: [],
      diagnoser,
      bus,
      deadLetters,
      clock: fixedClock('2026-11-20T10:01:00Z'),
    }),
    logger,
    metrics,
    counters,
  );
  return { handler, bus, deadLetters, lines, store, counters, metrics };
}

/** A diagnoser whose answer came from `model`, or from the offline rules after `cause`. */
const answering = (answer: { model: string } | { cause: 'throttled'; reason: string }): Diagnoser => ({
  async diagnose(inv) {
    const offline = await offlineDiagnoser.diagnose(inv);
    return 'model' in answer
      ? {
          ...offline,
          provider: 'bedrock',
          model: answer.model,
          steps: 1,
          tokens: { input: 1200, output: 150 },
        }
      : { ...offline, steps: 1, fallbackReason: answer.reason, fallbackCause: answer.cause };
  },
});

describe('diagnosis handler', () => {
  it('diagnoses, publishes and logs the cost of the answer', async () => {
    const { handler, bus, lines, store } = setup();
    const result = await handler(opened, lambdaContext('diagnose'));
    // No evidence at all: not a guess, an escalation.
    expect(result).toMatchObject({ outcome: 'diagnosed', rootCause: null, escalated: true });
    expect(bus.published.map((e) => e.type)).toEqual(['diagnosis.completed', 'incident.escalated']);
    expect(store.recorded[0]?.diagnosis.gaps).toEqual([]);
    expect(lines.find((l) => l.message === 'incident diagnosed')).toMatchObject({
      correlationId: 'inc-1',
      provider: 'offline',
      tokens: { input: 0, output: 0 },
      costUsd: 0,
    });
  });

  it('says who answered: the offline rules because none is configured, in the log line and the metric', async () => {
    const { handler, lines, counters } = setup();
    await handler(opened, lambdaContext('diagnose'));
    expect(lines.find((l) => l.message === 'incident diagnosed')).toMatchObject({
      answeredBy: 'offline rules',
      fallbackCause: 'configured',
    });
    expect(Object.fromEntries(counters.counts)).toEqual({
      'DiagnosisAnsweredBy AnsweredBy=offline Reason=configured': 1,
    });
  });

  it('says who answered: the model by id, or the offline rules and why Bedrock did not', async () => {
    const model = 'global.anthropic.claude-haiku-4-5-20251001-v1:0';
    const bedrock = setup(undefined, answering({ model }));
    await bedrock.handler(opened, lambdaContext('diagnose'));
    const line = bedrock.lines.find((l) => l.message === 'incident diagnosed');
    expect(line).toMatchObject({ answeredBy: model, model, provider: 'bedrock' });
    expect(line).not.toHaveProperty('fallbackCause');
    expect(Object.fromEntries(bedrock.counters.counts)).toEqual({
      [`DiagnosisAnsweredBy AnsweredBy=bedrock Model=${model}`]: 1,
    });

    const reason = 'Bedrock fast: ThrottlingException: Too many requests (after 5 attempts)';
    const fallback = setup(undefined, answering({ cause: 'throttled', reason }));
    await fallback.handler(opened, lambdaContext('diagnose'));
    expect(fallback.lines.find((l) => l.message === 'incident diagnosed')).toMatchObject({
      answeredBy: 'offline rules',
      fallbackCause: 'throttled',
      fallbackReason: reason,
    });
    expect(Object.fromEntries(fallback.counters.counts)).toEqual({
      'DiagnosisAnsweredBy AnsweredBy=offline Reason=throttled': 1,
    });
  });

  it('counts the tokens a diagnosis cost and whether the offline rules stood in for the model', async () => {
    const inv = { incident: { incidentId: 'inc-1' }, evidence: [], gaps: [] } as never;
    const metrics = new Metrics({ namespace: 'test', serviceName: 'test' });
    const counters = new FakeCounters();
    const answered = await answering({ model: 'm' }).diagnose(inv);
    expect(recordAnswer(answered, metrics, counters)).toEqual({ answeredBy: 'bedrock', model: 'm' });
    expect(metrics.serializeMetrics()).toMatchObject({
      DiagnosisInputTokens: 1200,
      DiagnosisOutputTokens: 150,
    });
    expect(metrics.serializeMetrics()).not.toHaveProperty('DiagnosisFallbacks');
    metrics.clearMetrics();
    const fallback = await answering({ cause: 'throttled', reason: 'slow down' }).diagnose(inv);
    expect(recordAnswer(fallback, metrics, counters)).toEqual({
      answeredBy: 'offline',
      reason: 'throttled',
      detail: 'slow down',
    });
    expect(metrics.serializeMetrics()).toMatchObject({ DiagnosisFallbacks: 1 });
  });

  it('dead-letters a malformed event with the reason and acknowledges it', async () => {
    const { handler, deadLetters, lines } = setup();
    const bad = { 'detail-type': 'incident.opened', detail: { type: 'incident.opened', data: {} } };
    const result = await handler(bad, lambdaContext('diagnose'));
    expect(result).toMatchObject({ outcome: 'rejected' });
    expect(deadLetters.rejected).toHaveLength(1);
    expect(deadLetters.rejected[0]?.reason).toMatch(/^not an incident\.opened event: /);
    expect(JSON.parse(deadLetters.rejected[0]?.body ?? '')).toEqual(bad);
    expect(lines.find((l) => l.message === 'event rejected')).toBeDefined();
  });

  it('rethrows any other failure so Lambda retries and then keeps the event', async () => {
    const { handler, deadLetters } = setup(
      new MemoryDiagnosisStore(new DependencyUnavailableError('database', 'connection refused')),
    );
    await expect(handler(opened, lambdaContext('diagnose'))).rejects.toThrow(/database unavailable/);
    expect(deadLetters.rejected).toEqual([]);
  });
});
