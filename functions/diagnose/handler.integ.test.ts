import { Metrics } from '@aws-lambda-powertools/metrics';
import { ECSClient } from '@aws-sdk/client-ecs';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { BedrockDiagnoser } from '#shared/adapters/bedrock-diagnoser.ts';
import { createBedrockClient } from '#shared/adapters/bedrock-embedder.ts';
import { PostgresDiagnosisStore } from '#shared/adapters/diagnosis-store.ts';
import { EcsEvidenceTool } from '#shared/adapters/ecs-evidence.ts';
import { SignalsEvidenceTool } from '#shared/adapters/knowledge-evidence.ts';
import { PostgresPerceptionStore } from '#shared/adapters/perception-store.ts';
import { diagnoserSettings, diagnosisEnvFields } from '#shared/config/diagnosis.ts';
import { CircuitBreaker } from '#shared/domain/circuit-breaker.ts';
import { defaultCorrelationSettings } from '#shared/domain/incident.ts';
import { systemClock } from '#shared/domain/ports.ts';
import type { Envelope } from '#shared/events/envelope.ts';
import { taskStoppedEvent } from '#shared/testing/ecs-events.ts';
import {
  FakeAlarmTags,
  FakeBus,
  FakeCounters,
  FakeDeadLetters,
  FakeEcs,
  watched,
} from '#shared/testing/fakes.ts';
import { capturingLogger, lambdaContext } from '#shared/testing/logging.ts';
import { perceive } from '#shared/usecases/perceive.ts';
import { type FakeBedrock, startFakeBedrock } from '../../localstack/fake-bedrock.ts';
import {
  createEcsService,
  emulatorClientConfig,
  startMigratedDatabase,
  type TestDatabase,
  uniqueName,
} from '../../localstack/testing.ts';
import { createHandler } from './handler.ts';

/**
 * The diagnosis agent's handler with Bedrock as configured by default (the default models and
 * budgets, the SDK client with its retries) against a fake Bedrock Runtime that denies access or
 * throttles: the offline rules answer from real evidence (the emulator's ECS, signals in
 * Postgres), and the log line and the EMF metric say so.
 */
describe('diagnosis when Bedrock denies or throttles', () => {
  let database: TestDatabase;
  let bedrock: FakeBedrock;
  let perception: PostgresPerceptionStore;
  const ecs = new ECSClient(emulatorClientConfig());
  const cluster = uniqueName('fallback');

  beforeAll(async () => {
    process.env.AWS_ACCESS_KEY_ID ??= 'test';
    process.env.AWS_SECRET_ACCESS_KEY ??= 'test';
    process.env.AWS_REGION ??= 'us-east-1';
    [database, bedrock] = await Promise.all([startMigratedDatabase(), startFakeBedrock()]);
    perception = new PostgresPerceptionStore(database.pool);
  });
  afterAll(async () => Promise.all([database?.stop(), bedrock?.stop()]));
  afterEach(() => vi.restoreAllMocks());

  /** An OOM-killed task on a fresh watched service, perceived: the incident.opened event as EventBridge delivers it. */
  async function openIncident(service: string) {
    await createEcsService(ecs, cluster, service, 2);
    await perception.registerService(watched(cluster, service));
    const bus = new FakeBus();
    await perceive(taskStoppedEvent({ cluster, service }), {
      store: perception,
      bus,
      ecs: new FakeEcs(),
      alarmTags: new FakeAlarmTags(),
      counters: new FakeCounters(),
      clock: systemClock,
      settings: defaultCorrelationSettings,
    });
    const opened = bus.published.find((e) => e.type === 'incident.opened') as Envelope<{
      incidentId: string;
    }>;
    return {
      incidentId: opened.data.incidentId,
      event: { 'detail-type': 'incident.opened', detail: opened },
    };
  }

  /** The handler as production wires it, Bedrock pointed at the fake; EMF lines captured from stdout. */
  function agent() {
    const { logger, lines } = capturingLogger();
    const emf: Record<string, unknown>[] = [];
    const write = process.stdout.write.bind(process.stdout) as (chunk: string | Uint8Array) => boolean;
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      const text = String(chunk);
      if (text.startsWith('{"_aws"')) emf.push(JSON.parse(text) as Record<string, unknown>);
      return write(chunk);
    });
    // The defaults every unset variable takes: the default models, prices and budgets.
    const env = Object.fromEntries(
      Object.entries(diagnosisEnvFields).map(([k, schema]) => [k, schema.parse(undefined)]),
    ) as never;
    const bus = new FakeBus();
    const handler = createHandler(
      async () => ({
        store: new PostgresDiagnosisStore(database.pool),
        tools: [new EcsEvidenceTool(ecs), new SignalsEvidenceTool(database.pool)],
        diagnoser: new BedrockDiagnoser(
          createBedrockClient(bedrock.endpoint),
          diagnoserSettings(env),
          new CircuitBreaker(systemClock),
        ),
        bus,
        deadLetters: new FakeDeadLetters(),
        clock: systemClock,
      }),
      logger,
      new Metrics({ namespace: 'Homeostat', serviceName: 'homeostat-diagnose' }),
    );
    return { handler, lines, emf, bus };
  }

  const answeredBy = (emf: Record<string, unknown>[]) =>
    emf
      .filter((line) => line.DiagnosisAnsweredBy === 1)
      .map(({ AnsweredBy, Reason, Model }) => ({ AnsweredBy, Reason, Model }));

  it('answers with the offline rules when access to the model is denied, and says so', async () => {
    const { incidentId, event } = await openIncident('denied');
    bedrock.requests.length = 0;
    bedrock.script.push({
      status: 403,
      error: 'AccessDeniedException',
      message: "You don't have access to the model with the specified model ID.",
    });
    const { handler, lines, emf, bus } = agent();
    const result = await handler(event, lambdaContext('diagnose'));

    expect(result).toMatchObject({ outcome: 'diagnosed', incidentId, rootCause: 'oom' });
    // Asked once, the default fast model (a denial is not retried).
    expect(bedrock.requests.map((r) => r.modelId)).toEqual([
      'global.anthropic.claude-haiku-4-5-20251001-v1:0',
    ]);
    expect(lines.find((l) => l.message === 'incident diagnosed')).toMatchObject({
      correlationId: incidentId,
      answeredBy: 'offline rules',
      fallbackCause: 'access_denied',
      provider: 'offline',
      fallbackReason: expect.stringMatching(/AccessDeniedException: You don't have access to the model/),
    });
    expect(answeredBy(emf)).toEqual([{ AnsweredBy: 'offline', Reason: 'access_denied', Model: undefined }]);
    expect(emf.find((l) => 'DiagnosisFallbacks' in l)).toMatchObject({ DiagnosisFallbacks: 1 });
    // What was recorded and announced says the same.
    const [row] = (
      await database.pool.query(
        'SELECT provider, model, fallback_reason FROM diagnoses WHERE incident_id = $1',
        [incidentId],
      )
    ).rows;
    expect(row).toMatchObject({ provider: 'offline', model: null });
    expect(row.fallback_reason).toMatch(/AccessDeniedException/);
    expect(bus.published.find((e) => e.type === 'diagnosis.completed')?.data).toMatchObject({
      provider: 'offline',
      fallbackReason: expect.stringMatching(/AccessDeniedException/),
    });
  });

  it('answers with the offline rules when Bedrock still throttles after the SDK retries, and says so', async () => {
    const { incidentId, event } = await openIncident('throttled');
    bedrock.requests.length = 0;
    const throttled = { status: 429, error: 'ThrottlingException', message: 'Too many requests' } as const;
    bedrock.script.push(throttled, throttled, throttled, throttled, throttled);
    const { handler, lines, emf } = agent();
    const result = await handler(event, lambdaContext('diagnose'));

    expect(result).toMatchObject({ outcome: 'diagnosed', incidentId, rootCause: 'oom' });
    // The SDK retried (clientDefaults: 5 attempts) before the offline rules stood in.
    expect(bedrock.requests).toHaveLength(5);
    expect(lines.find((l) => l.message === 'incident diagnosed')).toMatchObject({
      answeredBy: 'offline rules',
      fallbackCause: 'throttled',
      fallbackReason: expect.stringMatching(/ThrottlingException: Too many requests \(after 5 attempts\)$/),
    });
    expect(answeredBy(emf)).toEqual([{ AnsweredBy: 'offline', Reason: 'throttled', Model: undefined }]);
  });
});
