import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { ECSClient } from '@aws-sdk/client-ecs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createEcsService,
  emulatorClientConfig,
  startMigratedDatabase,
  type TestDatabase,
  uniqueName,
} from '../../localstack/testing.ts';
import { createCloudWatchMetricsClient } from '../adapters/cloudwatch.ts';
import { CloudWatchLogsTool, CloudWatchMetricsTool } from '../adapters/cloudwatch-evidence.ts';
import { PostgresDiagnosisStore } from '../adapters/diagnosis-store.ts';
import { EcsEvidenceTool } from '../adapters/ecs-evidence.ts';
import { KnowledgeEvidenceTool, SignalsEvidenceTool } from '../adapters/knowledge-evidence.ts';
import { PostgresKnowledgeStore } from '../adapters/knowledge-store.ts';
import { PostgresPerceptionStore } from '../adapters/perception-store.ts';
import { EmbeddingModels, HashingEmbedder } from '../domain/embedding.ts';
import { InvalidEventError } from '../domain/errors.ts';
import { defaultCorrelationSettings } from '../domain/incident.ts';
import type { EventPublisher } from '../domain/ports.ts';
import { offlineDiagnoser } from '../domain/pre-analysis.ts';
import {
  type DiagnosisRequestedData,
  diagnosisCompletedDataSchema,
  diagnosisRevisedDataSchema,
} from '../events/catalog.ts';
import { buildEnvelope, type Envelope } from '../events/envelope.ts';
import { appSignalEvent, taskStoppedEvent } from '../testing/ecs-events.ts';
import { FakeAlarmTags, FakeBus, FakeCounters, FakeEcs, watched } from '../testing/fakes.ts';
import { type DiagnoseDeps, diagnoseEvent, diagnoseIncident } from './diagnose.ts';
import { perceive } from './perceive.ts';

/**
 * The diagnosis use-case with every real part: the evidence tools against the
 * emulator's ECS, CloudWatch and Logs, the signals and knowledge in PGlite
 * through the Neon driver, the offline diagnoser, the Postgres store.
 */
describe('diagnosis against the emulator and Postgres', () => {
  let database: TestDatabase;
  let perception: PostgresPerceptionStore;
  const config = emulatorClientConfig();
  const ecs = new ECSClient(config);
  const cluster = uniqueName('diagnose');

  beforeAll(async () => {
    database = await startMigratedDatabase();
    perception = new PostgresPerceptionStore(database.pool);
  });
  afterAll(async () => database?.stop());

  const deps = (bus: EventPublisher = new FakeBus()): DiagnoseDeps => ({
    store: new PostgresDiagnosisStore(database.pool),
    tools: [
      new EcsEvidenceTool(ecs),
      new CloudWatchMetricsTool(createCloudWatchMetricsClient(config), async () => []),
      new CloudWatchLogsTool(new CloudWatchLogsClient(config), ecs),
      new SignalsEvidenceTool(database.pool),
      new KnowledgeEvidenceTool(
        new PostgresKnowledgeStore(database.pool),
        new EmbeddingModels(new HashingEmbedder()),
      ),
    ],
    diagnoser: offlineDiagnoser,
    bus,
    clock: { now: () => new Date() },
  });

  const perceiveDeps = (bus: FakeBus) => ({
    store: perception,
    bus,
    ecs: new FakeEcs(),
    alarmTags: new FakeAlarmTags(),
    counters: new FakeCounters(),
    clock: { now: () => new Date() },
    settings: defaultCorrelationSettings,
  });

  /** Perceives `event` for a fresh watched service and returns the incident.opened event as EventBridge delivers it. */
  async function openIncident(
    service: string,
    event: (svc: { cluster: string; service: string }) => unknown,
  ) {
    await perception.registerService(watched(cluster, service));
    const bus = new FakeBus();
    await perceive(event({ cluster, service }), perceiveDeps(bus));
    const opened = bus.published.find((e) => e.type === 'incident.opened') as Envelope<{
      incidentId: string;
    }>;
    return {
      incidentId: opened.data.incidentId,
      event: { source: 'homeostat.perceive', 'detail-type': 'incident.opened', detail: opened },
    };
  }
  const query = async (sql: string, params: unknown[]) => (await database.pool.query(sql, params)).rows;

  it('diagnoses an OOM-killed task from real evidence, records it once with its gaps, and announces it', async () => {
    await createEcsService(ecs, cluster, 'api', 2);
    const { incidentId, event } = await openIncident('api', (svc) => taskStoppedEvent(svc));
    const bus = new FakeBus();
    const result = await diagnoseIncident(event, deps(bus));

    expect(result).toMatchObject({ outcome: 'diagnosed', escalated: false });
    const [row] = await query('SELECT * FROM diagnoses WHERE incident_id = $1', [incidentId]);
    expect(row.hypotheses[0]).toMatchObject({ rootCause: 'oom', component: 'api' });
    expect(row.evidence.map((e: { kind: string }) => e.kind)).toEqual(
      expect.arrayContaining(['service', 'signals']),
    );
    // What could not be read is named: no metrics, no log configuration, an empty knowledge base.
    expect(row.gaps.map((g: { tool: string }) => g.tool).sort()).toEqual([
      'cloudwatch_metrics',
      'knowledge',
      'logs',
    ]);
    const [incident] = await query('SELECT state FROM incidents WHERE id = $1', [incidentId]);
    expect(incident.state).toBe('diagnosing');
    const timeline = await query('SELECT kind FROM incident_timeline WHERE incident_id = $1 ORDER BY id', [
      incidentId,
    ]);
    expect(timeline.map((t) => t.kind).slice(-2)).toEqual(['state:diagnosing', 'diagnosis']);
    const audit = await query("SELECT result FROM audit_log WHERE incident_id = $1 AND action = 'diagnose'", [
      incidentId,
    ]);
    expect(audit).toEqual([{ result: 'oom' }]);
    expect(bus.published.map((e) => e.type)).toEqual(['diagnosis.completed']);
    expect(diagnosisCompletedDataSchema.safeParse(bus.published[0]?.data).success).toBe(true);

    // A redelivery does nothing new.
    const again = new FakeBus();
    expect(await diagnoseIncident(event, deps(again))).toMatchObject({
      outcome: 'skipped',
      reason: 'already diagnosed',
    });
    expect(again.published).toEqual([]);
    expect(await query('SELECT 1 FROM diagnoses WHERE incident_id = $1', [incidentId])).toHaveLength(1);
  });

  it('publishes on redelivery what a failed attempt recorded but could not publish', async () => {
    await createEcsService(ecs, cluster, 'web', 1);
    const { event } = await openIncident('web', (svc) => taskStoppedEvent(svc));
    const down: EventPublisher = {
      publish: async () => {
        throw new Error('EventBridge unavailable');
      },
    };
    await expect(diagnoseIncident(event, deps(down))).rejects.toThrow(/EventBridge unavailable/);
    const bus = new FakeBus();
    expect(await diagnoseIncident(event, deps(bus))).toMatchObject({ outcome: 'skipped' });
    expect(bus.published.map((e) => e.type)).toEqual(['diagnosis.completed']);
  });

  it('escalates when the evidence is insufficient (the service vanished), saying what was missing', async () => {
    const { incidentId, event } = await openIncident('gone', (svc) => appSignalEvent(svc));
    const bus = new FakeBus();
    const result = await diagnoseIncident(event, deps(bus));
    expect(result).toMatchObject({ outcome: 'diagnosed', escalated: true });
    const [incident] = await query('SELECT state, closed_at FROM incidents WHERE id = $1', [incidentId]);
    expect(incident.state).toBe('escalated');
    expect(incident.closed_at).not.toBeNull();
    const escalation = bus.published.find((e) => e.type === 'incident.escalated') as Envelope<{
      reason: string;
    }>;
    expect(escalation.data.reason).toMatch(/^insufficient evidence .*ecs \(ECS does not know .*\/gone/);
  });

  it('skips an incident that closed before its diagnosis began', async () => {
    await createEcsService(ecs, cluster, 'jobs', 1);
    const { incidentId, event } = await openIncident('jobs', (svc) => taskStoppedEvent(svc));
    const [row] = await query('SELECT version FROM incidents WHERE id = $1', [incidentId]);
    await perception.transition(incidentId, row.version, 'self_resolved');
    expect(await diagnoseIncident(event, deps())).toMatchObject({
      outcome: 'skipped',
      reason: 'incident is self_resolved',
    });
  });

  it('rejects a malformed event and an unknown incident without writing anything', async () => {
    await expect(diagnoseIncident({ detail: { type: 'incident.opened' } }, deps())).rejects.toThrow(
      InvalidEventError,
    );
    const { event } = await openIncident('ghost', (svc) => appSignalEvent(svc));
    const unknown = structuredClone(event);
    unknown.detail.data.incidentId = '00000000-0000-4000-8000-000000000000';
    await expect(diagnoseIncident(unknown, deps())).rejects.toThrow(/incident 0{8}-.* does not exist/);
  });

  it('diagnoses again with the new evidence, records revision 2 once, and announces diagnosis.revised', async () => {
    await createEcsService(ecs, cluster, 'revised', 2);
    // An application fault first: nothing explains it.
    const { incidentId, event: openedEvent } = await openIncident('revised', (svc) =>
      appSignalEvent({ ...svc, severity: 'fault' }),
    );
    const base = deps();
    await diagnoseEvent(openedEvent, base);
    // The loop acted and failed meanwhile: the incident is verifying when ECS reports OOM kills.
    await database.pool.query("UPDATE incidents SET state = 'verifying' WHERE id = $1", [incidentId]);
    await perceive(taskStoppedEvent({ cluster, service: 'revised' }), perceiveDeps(new FakeBus()));

    const requested = buildEnvelope<DiagnosisRequestedData>({
      type: 'diagnosis.requested',
      source: 'homeostat.plan',
      time: new Date(),
      causationId: `failed-${incidentId}`,
      incidentId,
      data: {
        incidentId,
        service: { cluster, service: 'revised' },
        afterStep: 1,
        newEvidence: ['task_stopped:x'],
      },
    });
    const event = { source: 'homeostat.plan', 'detail-type': 'diagnosis.requested', detail: requested };
    const bus = new FakeBus();
    expect(await diagnoseEvent(event, { ...base, bus })).toMatchObject({ outcome: 'diagnosed' });
    const [row] = (await database.pool.query('SELECT * FROM diagnoses WHERE incident_id = $1', [incidentId]))
      .rows;
    expect(row).toMatchObject({ revision: 2 });
    expect(row.hypotheses[0]).toMatchObject({ rootCause: 'oom' });
    const revised = bus.published.find((e) => e.type === 'diagnosis.revised');
    expect(diagnosisRevisedDataSchema.safeParse(revised?.data).success).toBe(true);
    expect(revised?.data).toMatchObject({ afterStep: 1, revision: 2, mechanism: 'undersized_memory' });
    const audit = await database.pool.query(
      "SELECT inputs->>'revision' AS revision FROM audit_log WHERE incident_id = $1 AND action = 'diagnose' ORDER BY id",
      [incidentId],
    );
    expect(audit.rows.map((r) => r.revision)).toEqual(['1', '2']);

    // A redelivery finds it revised after the request: nothing recorded twice.
    expect(await diagnoseEvent(event, { ...base, bus: new FakeBus() })).toMatchObject({
      outcome: 'skipped',
      reason: 'already revised',
    });
    const again = (
      await database.pool.query('SELECT revision FROM diagnoses WHERE incident_id = $1', [incidentId])
    ).rows[0];
    expect(again.revision).toBe(2);
  });

  it('refuses a malformed request with the reasons', async () => {
    await expect(
      diagnoseEvent(
        {
          source: 'homeostat.plan',
          'detail-type': 'diagnosis.requested',
          detail: { type: 'diagnosis.requested' },
        },
        deps(),
      ),
    ).rejects.toThrow(InvalidEventError);
  });
});
