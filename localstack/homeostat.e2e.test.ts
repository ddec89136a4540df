import { readdirSync } from 'node:fs';
import { DescribeServicesCommand, ECSClient } from '@aws-sdk/client-ecs';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { ReceiveMessageCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, type Pool } from '../shared/adapters/database.ts';
import { diagnosisCompletedDataSchema } from '../shared/events/catalog.ts';
import { ecsMetricAlarmEvent } from '../shared/testing/alarm-events.ts';
import { appSignalEvent, taskStoppedEvent } from '../shared/testing/ecs-events.ts';
import { type LocalDatabase, startLocalDatabase } from './db-server.ts';
import { deleteStack, deployLocal, stackOutputs } from './deploy-local.ts';
import { waitFor } from './harness.ts';
import { migrationsDir } from './migrate-local.ts';
import {
  captureEvents,
  createEcsService,
  type EventCapture,
  emulatorClientConfig,
  emulatorEndpoint,
  uniqueName,
} from './testing.ts';

/**
 * Through a real cdklocal deployment: the migrator creates the schema and
 * registers the watched service; an alarm and an ECS event on the default bus
 * and an app signal on the homeostat bus reach the deployed perception Lambda
 * through the stack's rules, which records them in Postgres (Neon driver) as
 * one incident and publishes the incident's events on the homeostat bus.
 */
describe('deployed Homeostat stack in the emulator', () => {
  const stackName = 'HomeostatE2E';
  const busName = uniqueName('homeostat-e2e');
  const cluster = uniqueName('shop');
  let database: LocalDatabase;
  let pool: Pool;
  let outputs: Record<string, string>;
  let capture: EventCapture;
  let diagnoses: EventCapture;

  beforeAll(async () => {
    // An empty database: the migrator trigger must create the schema during the deploy.
    database = await startLocalDatabase();
    pool = createPool({ url: database.url, wsProxy: database.wsProxy });
    await deployLocal({
      endpoint: emulatorEndpoint(),
      database,
      stackName,
      busName,
      secretName: `${stackName}/database-url`,
      // MiniStack's CloudFormation rejects metric-math alarms; CDK tests cover the standard alarms.
      watchedServices: [
        { cluster, service: 'api', standardAlarms: false },
        { cluster, service: 'pay', standardAlarms: false },
      ],
      // A game day every minute on pay (reverted after one): Scheduler fires it, the guardrails let one in.
      chaos: {
        experiments: [
          {
            name: 'e2e-scale-down',
            target: { cluster, service: 'pay' },
            fault: { kind: 'scale_to', desiredCount: 1 },
            durationMinutes: 1,
            schedule: { expression: 'rate(1 minute)', enabled: true },
          },
        ],
      },
      log: (line) => process.stderr.write(`[deploy] ${line}\n`),
    });
    outputs = await stackOutputs(emulatorEndpoint(), stackName);
    capture = await captureEvents(busName, 'incident.opened');
    diagnoses = await captureEvents(busName, 'diagnosis.completed');
    await createEcsService(new ECSClient(emulatorClientConfig()), cluster, 'api', 2);
    await createEcsService(new ECSClient(emulatorClientConfig()), cluster, 'pay', 2, {
      'homeostat:chaos': 'opt-in',
    });
  });

  afterAll(async () => {
    await capture?.dispose();
    await diagnoses?.dispose();
    await deleteStack(emulatorEndpoint(), stackName).catch(() => {});
    await pool?.end();
    await database?.stop();
  });

  it('ran the migrations on deploy, and registered each watched service through its own custom resource', async () => {
    const { rows } = await pool.query('SELECT name FROM schema_migrations ORDER BY name');
    expect(rows.map((r) => r.name)).toEqual(
      readdirSync(migrationsDir)
        .filter((f) => f.endsWith('.sql'))
        .sort(),
    );
    const watched = await pool.query(
      `SELECT cluster, service, alarm_prefixes, registered_by FROM watched_services WHERE cluster = $1 ORDER BY service`,
      [cluster],
    );
    expect(watched.rows).toEqual(
      ['api', 'pay'].map((service) => ({
        cluster,
        service,
        alarm_prefixes: [`homeostat-${cluster}-${service}-`],
        // "<stack id>/<logical id>": the Custom::HomeostatWatchedService that declared it.
        registered_by: expect.stringMatching(/^arn:aws:cloudformation:.*:stack\/.+\/Watched.*Registration/),
      })),
    );
    expect(outputs.BusName).toBe(busName);
  });

  it('ingested the bundled runbooks on deploy, embedded by the offline model', async () => {
    const { rows } = await pool.query(
      `SELECT count(DISTINCT n.payload->>'runbook') AS runbooks, count(*) AS chunks,
              count(*) FILTER (WHERE e.model = 'homeostat-hash-v1') AS embedded
         FROM knowledge_nodes n LEFT JOIN knowledge_embeddings e ON e.node_id = n.id
        WHERE n.kind = 'runbook'`,
    );
    expect(Number(rows[0].runbooks)).toBe(12);
    expect(Number(rows[0].chunks)).toBeGreaterThanOrEqual(48);
    expect(Number(rows[0].embedded)).toBe(Number(rows[0].chunks));
  });

  it('turns an alarm, an ECS task failure and an app signal into one incident through the deployed rules', async () => {
    const events = new EventBridgeClient(emulatorClientConfig());
    const put = async (entry: { source: string; 'detail-type': string; detail: unknown }, bus?: string) => {
      const out = await events.send(
        new PutEventsCommand({
          Entries: [
            {
              Source: entry.source,
              DetailType: entry['detail-type'],
              Detail: JSON.stringify(entry.detail),
              EventBusName: bus,
            },
          ],
        }),
      );
      expect(out.FailedEntryCount ?? 0).toBe(0);
      return out.Entries?.[0]?.EventId as string;
    };
    const signalRow = (id: string) =>
      waitFor(
        'the signal row',
        async () => (await pool.query('SELECT * FROM signals WHERE id = $1', [id])).rows[0],
        {
          timeoutMs: 60_000,
        },
      );

    // The task failure first: a fault the diagnosis claims, so the incident stays open for the rest.
    // (An alarm alone on a healthy service is diagnosed no_fault and closed at once, so it never holds
    // the service's incident slot.)
    const taskId = await put(taskStoppedEvent({ cluster, service: 'api' }));
    const taskRow = await signalRow(taskId);
    expect(taskRow).toMatchObject({ kind: 'task_stopped', classification: 'fault', cluster, service: 'api' });
    const [incident] = (await pool.query('SELECT * FROM incidents WHERE id = $1', [taskRow.incident_id]))
      .rows;
    expect(incident?.service_snapshot).toMatchObject({ desiredCount: 2, status: 'ACTIVE' });
    const opened = await capture.next<{ data: { firstSignalId: string } }>(
      (d) => d.data.firstSignalId === taskId,
      60_000,
    );
    expect(opened).toMatchObject({
      type: 'incident.opened',
      source: 'homeostat.perceive',
      incidentId: incident?.id,
    });

    const alarmId = await put(
      ecsMetricAlarmEvent({ cluster, service: 'api', alarmName: 'api-memory-high-e2e' }),
    );
    expect(await signalRow(alarmId)).toMatchObject({
      name: 'api-memory-high-e2e',
      classification: 'fault',
      incident_id: incident?.id,
    });

    const appId = await put(appSignalEvent({ cluster, service: 'api', severity: 'fault' }), busName);
    expect(await signalRow(appId)).toMatchObject({ kind: 'app', incident_id: incident?.id });
    const [after] = (await pool.query('SELECT signal_count FROM incidents WHERE id = $1', [incident?.id]))
      .rows;
    expect(after?.signal_count).toBe(3);

    // The deployed diagnosis agent took the incident.opened event: evidence, diagnosis, audit, event.
    const completed = await diagnoses.next<{ source: string; data: Record<string, unknown> }>(
      (d) => d.data.incidentId === incident?.id,
      60_000,
    );
    expect(completed.source).toBe('homeostat.diagnose');
    expect(diagnosisCompletedDataSchema.safeParse(completed.data).success).toBe(true);
    expect(completed.data).toMatchObject({ provider: 'offline', steps: 0, tokens: { input: 0, output: 0 } });
    // ECS's documented OOM message names the mechanism; the fix travels with it.
    expect(completed.data).toMatchObject({
      mechanism: 'undersized_memory',
      fix: expect.stringMatching(/memory/),
    });
    const [row] = (await pool.query('SELECT * FROM diagnoses WHERE incident_id = $1', [incident?.id])).rows;
    const evidenceKinds = ((row?.evidence ?? []) as { kind: string }[]).map((e) => e.kind);
    expect(evidenceKinds).toEqual(expect.arrayContaining(['service', 'signals']));
    const audit = await pool.query(
      "SELECT actor FROM audit_log WHERE incident_id = $1 AND action = 'diagnose'",
      [incident?.id],
    );
    expect(audit.rows).toEqual([{ actor: 'homeostat.diagnose' }]);
  });

  it('fires a scheduled chaos experiment through EventBridge Scheduler, reverts it on time and scores the game day', async () => {
    const injected = await waitFor(
      'the scheduled experiment to be injected',
      async () =>
        (
          await pool.query(
            `SELECT * FROM chaos_experiments WHERE cluster = $1 AND service = 'pay' AND state IN ('injected', 'reverted')
              ORDER BY requested_at LIMIT 1`,
            [cluster],
          )
        ).rows[0],
      { timeoutMs: 150_000, intervalMs: 1_000 },
    ).catch(async (error) => {
      // Say what the agent did instead (refused, failed) rather than only that it timed out.
      const runs = await pool.query('SELECT state, guard, reason FROM chaos_experiments WHERE cluster = $1', [
        cluster,
      ]);
      throw new Error(`${(error as Error).message}; runs: ${JSON.stringify(runs.rows)}`);
    });
    expect(injected).toMatchObject({ experiment: 'e2e-scale-down', requested_by: 'schedule:e2e-scale-down' });
    const ecs = new ECSClient(emulatorClientConfig());
    const desired = async () =>
      (await ecs.send(new DescribeServicesCommand({ cluster, services: ['pay'] }))).services?.[0]
        ?.desiredCount;
    // The chaos marker reached perception through the bus.
    await waitFor(
      'the chaos marker',
      async () =>
        (
          await pool.query(
            `SELECT 1 FROM signals WHERE kind = 'chaos' AND cluster = $1 AND service = 'pay'`,
            [cluster],
          )
        ).rows[0],
      { timeoutMs: 60_000 },
    );
    // CloudWatch's part: the service's running-task alarm fires; the incident names the experiment.
    const events = new EventBridgeClient(emulatorClientConfig());
    const alarm = ecsMetricAlarmEvent({ cluster, service: 'pay', alarmName: 'pay-running-low-e2e' });
    await events.send(
      new PutEventsCommand({
        Entries: [
          { Source: alarm.source, DetailType: alarm['detail-type'], Detail: JSON.stringify(alarm.detail) },
        ],
      }),
    );
    const incident = await waitFor(
      'the incident caused by the experiment',
      async () =>
        (
          await pool.query(
            'SELECT id, chaos_experiment_id FROM incidents WHERE cluster = $1 AND service = $2',
            [cluster, 'pay'],
          )
        ).rows[0],
      { timeoutMs: 60_000 },
    );
    expect(incident.chaos_experiment_id).toBe(injected.id);
    // The one-time revert schedule fires after the experiment's minute, whether or not anything was repaired.
    const reverted = await waitFor(
      'the scheduled revert',
      async () =>
        (
          await pool.query(`SELECT * FROM chaos_experiments WHERE id = $1 AND state = 'reverted'`, [
            injected.id,
          ])
        ).rows[0],
      { timeoutMs: 150_000, intervalMs: 1_000 },
    );
    expect(new Date(reverted.reverted_at).getTime()).toBeGreaterThanOrEqual(
      new Date(reverted.revert_at).getTime() - 1_000,
    );
    // What the revert did: it set the count back, or found Homeostat had already repaired it.
    expect(reverted.revert_detail).toMatch(/desired count 1 → 2|no longer the injected 1/);
    // The schedule fires every minute: once this run is reverted, the next one may scale pay down
    // again at the same minute. Only when none has may the live count be read as this revert's result.
    const later = await pool.query(
      `SELECT id FROM chaos_experiments WHERE cluster = $1 AND service = 'pay' AND id <> $2
          AND injected_at IS NOT NULL`,
      [cluster, injected.id],
    );
    const count = await desired();
    if (later.rowCount === 0 && (count ?? 0) < 2) {
      const trail = await pool.query(
        `SELECT actor, action, result, detail FROM audit_log WHERE incident_id = $1 OR inputs::text LIKE $2 ORDER BY id`,
        [incident.id, `%${injected.id}%`],
      );
      throw new Error(
        `pay's desired count is ${count} after the revert; audit: ${JSON.stringify(trail.rows)}`,
      );
    }
    const [score] = (
      await pool.query('SELECT * FROM game_day_scores WHERE experiment_id = $1', [injected.id])
    ).rows;
    expect(score).toMatchObject({
      incident_id: incident.id,
      detected: true,
      revert_needed: reverted.revert_needed,
    });
    expect(Number(score.time_to_detect_ms)).toBeGreaterThan(0);
    const audit = await pool.query(
      `SELECT action FROM audit_log WHERE inputs ->> 'experimentId' = $1 ORDER BY id`,
      [injected.id],
    );
    expect(audit.rows.map((r) => r.action)).toEqual(['chaos.injected', 'chaos.reverted']);
  });

  it('dead-letters a malformed incident.opened at the diagnosis agent with the reason', async () => {
    const marker = uniqueName('bad-incident');
    const events = new EventBridgeClient(emulatorClientConfig());
    await events.send(
      new PutEventsCommand({
        Entries: [
          {
            Source: 'homeostat.perceive',
            DetailType: 'incident.opened',
            Detail: JSON.stringify({ type: 'incident.opened', marker }),
            EventBusName: busName,
          },
        ],
      }),
    );
    const sqs = new SQSClient(emulatorClientConfig());
    const record = await waitFor(
      'the rejection in the diagnosis DLQ',
      async () => {
        const out = await sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: outputs.DiagnosisDeadLetterQueueUrl,
            WaitTimeSeconds: 1,
            MaxNumberOfMessages: 10,
          }),
        );
        return (out.Messages ?? []).map((m) => m.Body ?? '').find((body) => body.includes(marker));
      },
      { timeoutMs: 90_000 },
    );
    expect(JSON.parse(record).reason).toMatch(/^not an incident\.opened event: /);
  });

  it('dead-letters a malformed event from the perception queue with the reason, writing no row', async () => {
    const bad = {
      id: uniqueName('malformed'),
      source: 'aws.cloudwatch',
      'detail-type': 'CloudWatch Alarm State Change',
    };
    const sqs = new SQSClient(emulatorClientConfig());
    await sqs.send(
      new SendMessageCommand({ QueueUrl: outputs.PerceptionQueueUrl, MessageBody: JSON.stringify(bad) }),
    );
    const record = await waitFor(
      'the rejection record in the DLQ',
      async () => {
        const out = await sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: outputs.PerceptionDeadLetterQueueUrl,
            WaitTimeSeconds: 1,
            MaxNumberOfMessages: 10,
          }),
        );
        return (out.Messages ?? []).map((m) => m.Body ?? '').find((body) => body.includes(bad.id));
      },
      { timeoutMs: 90_000 },
    );
    // The agent's rejection record: the delivery as received and why it was refused.
    const rejection = JSON.parse(record) as { body: string; reason: string };
    expect(JSON.parse(rejection.body)).toEqual(bad);
    expect(rejection.reason).toMatch(/^malformed "CloudWatch Alarm State Change" event: .*detail/);
    const { rows } = await pool.query('SELECT 1 FROM signals WHERE id = $1', [bad.id]);
    expect(rows).toEqual([]);
  });
});
