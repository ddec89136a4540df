import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { CloudWatchClient, PutMetricAlarmCommand, TagResourceCommand } from '@aws-sdk/client-cloudwatch';
import { ECSClient } from '@aws-sdk/client-ecs';
import { CreateEventBusCommand, DeleteEventBusCommand, EventBridgeClient } from '@aws-sdk/client-eventbridge';
import {
  CreateQueueCommand,
  DeleteQueueCommand,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import type { Context } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CloudWatchAlarmTagReader } from '#shared/adapters/cloudwatch.ts';
import { createPool } from '#shared/adapters/database.ts';
import { SqsDeadLetters } from '#shared/adapters/dead-letters.ts';
import { EcsServiceReaderAdapter } from '#shared/adapters/ecs.ts';
import { EventBridgePublisher } from '#shared/adapters/event-bus.ts';
import { PostgresPerceptionStore } from '#shared/adapters/perception-store.ts';
import { DependencyUnavailableError, InvalidEventError } from '#shared/domain/errors.ts';
import { systemClock } from '#shared/domain/ports.ts';
import { ecsMetricAlarmEvent } from '#shared/testing/alarm-events.ts';
import { taskStoppedEvent } from '#shared/testing/ecs-events.ts';
import { FakeCounters, watched } from '#shared/testing/fakes.ts';

import {
  captureEvents,
  createEcsService,
  type EventCapture,
  emulatorClientConfig,
  startMigratedDatabase,
  type TestDatabase,
  uniqueName,
} from '../../localstack/testing.ts';
import { createHandler, type PerceiveHandlerDeps } from './handler.ts';

/** The perception handler in-process on real adapters: emulator ECS, CloudWatch and EventBridge; PGlite via Neon. */
describe('perceive handler against the emulator and Postgres', () => {
  const context = { functionName: 'perceive', awsRequestId: 'integ' } as Context;
  const logger = new Logger({ serviceName: 'perceive-integ', logLevel: 'SILENT' });
  const metrics = new Metrics({ namespace: 'Test', serviceName: 'perceive-integ' });
  const cluster = uniqueName('shop');
  const service = 'api';
  let database: TestDatabase;
  let events: EventBridgeClient;
  let cloudwatch: CloudWatchClient;
  let busName: string;
  let capture: EventCapture;
  let deps: PerceiveHandlerDeps;
  let sqs: SQSClient;
  let deadLetterQueueUrl: string;
  let store: PostgresPerceptionStore;
  let taskDefinitionArn: string;

  beforeAll(async () => {
    const config = emulatorClientConfig();
    const ecs = new ECSClient(config);
    events = new EventBridgeClient(config);
    cloudwatch = new CloudWatchClient(config);
    busName = uniqueName('homeostat-integ');
    await events.send(new CreateEventBusCommand({ Name: busName }));
    capture = await captureEvents(busName, 'incident.opened');
    taskDefinitionArn = await createEcsService(ecs, cluster, service, 3);
    sqs = new SQSClient(config);
    deadLetterQueueUrl =
      (await sqs.send(new CreateQueueCommand({ QueueName: uniqueName('perceive-dlq') }))).QueueUrl ?? '';
    database = await startMigratedDatabase();
    store = new PostgresPerceptionStore(database.pool);
    await store.registerService(watched(cluster, service));
    deps = {
      ecs: new EcsServiceReaderAdapter(ecs),
      alarmTags: new CloudWatchAlarmTagReader(cloudwatch),
      bus: new EventBridgePublisher(events, busName),
      deadLetters: new SqsDeadLetters(sqs, deadLetterQueueUrl),
      store,
      counters: new FakeCounters(),
      clock: systemClock,
    };
  });

  afterAll(async () => {
    await capture?.dispose();
    await events?.send(new DeleteEventBusCommand({ Name: busName }));
    await sqs?.send(new DeleteQueueCommand({ QueueUrl: deadLetterQueueUrl }));
    await database?.stop();
  });

  it('opens an incident with the ECS snapshot and publishes incident.opened on the bus', async () => {
    const handler = createHandler(async () => deps, logger, metrics);
    const event = ecsMetricAlarmEvent({ cluster, service, alarmName: 'api-memory-high' });
    const result = await handler(event, context);
    expect(result).toMatchObject({ outcome: 'opened', signalId: event.id });

    const [incident] = (await database.pool.query('SELECT * FROM incidents WHERE cluster = $1', [cluster]))
      .rows;
    expect(incident?.service_snapshot).toMatchObject({ desiredCount: 3, taskDefinition: taskDefinitionArn });
    const published = await capture.next<{ data: { firstSignalId: string } }>(
      (d) => d.data.firstSignalId === event.id,
    );
    expect(published).toMatchObject({
      type: 'incident.opened',
      source: 'homeostat.perceive',
      incidentId: incident?.id,
      data: { service: { cluster, service }, serviceSnapshot: { desiredCount: 3 } },
    });
  });

  it('resolves an alarm without dimensions from its homeostat:cluster / homeostat:service tags', async () => {
    const alarmName = uniqueName('tagged-alarm');
    await cloudwatch.send(
      new PutMetricAlarmCommand({
        AlarmName: alarmName,
        Namespace: 'Shop',
        MetricName: 'CheckoutErrors',
        Statistic: 'Sum',
        Period: 60,
        EvaluationPeriods: 1,
        Threshold: 5,
        ComparisonOperator: 'GreaterThanThreshold',
      }),
    );
    // TagResource rather than PutMetricAlarm's Tags: MiniStack drops the latter.
    await cloudwatch.send(
      new TagResourceCommand({
        ResourceARN: `arn:aws:cloudwatch:us-east-1:000000000000:alarm:${alarmName}`,
        Tags: [
          { Key: 'homeostat:cluster', Value: cluster },
          { Key: 'homeostat:service', Value: service },
        ],
      }),
    );
    const event = ecsMetricAlarmEvent({ alarmName, account: '000000000000', region: 'us-east-1' });
    const handler = createHandler(async () => deps, logger, metrics);
    expect(await handler(event, context)).toMatchObject({ outcome: 'attached', signalId: event.id });
  });

  it('rejects a malformed event without writing a row', async () => {
    const handler = createHandler(async () => deps, logger, metrics);
    const event = { ...ecsMetricAlarmEvent({ cluster, service }), detail: { alarmName: 'x' } };
    await expect(handler(event, context)).rejects.toBeInstanceOf(InvalidEventError);
    expect((await database.pool.query('SELECT 1 FROM signals WHERE id = $1', [event.id])).rows).toEqual([]);
  });

  it('records a queue batch in one go: duplicates once, the malformed event in the DLQ with its reason', async () => {
    const handler = createHandler(async () => deps, logger, metrics);
    const alarm = ecsMetricAlarmEvent({ cluster, service, alarmName: 'api-latency-p99' });
    const stopped = taskStoppedEvent({ cluster, service });
    const malformed = { ...ecsMetricAlarmEvent({ cluster, service }), detail: { alarmName: 42 } };
    const body = (event: unknown) => JSON.stringify(event);
    const result = await handler(
      {
        Records: [
          { messageId: 'q1', body: body(alarm) },
          { messageId: 'q2', body: body(stopped) },
          { messageId: 'q3', body: body(alarm) },
          { messageId: 'q4', body: body(malformed) },
        ],
      },
      context,
    );
    expect(result).toEqual({ batchItemFailures: [] });
    const { rows } = await database.pool.query(
      'SELECT id, incident_id IS NOT NULL AS attached FROM signals WHERE id = ANY($1) ORDER BY id',
      [[alarm.id, stopped.id, malformed.id]],
    );
    expect(rows).toEqual([alarm.id, stopped.id].sort().map((id) => ({ id, attached: true })));
    const received = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: deadLetterQueueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 1,
        MessageAttributeNames: ['All'],
      }),
    );
    const dead = (received.Messages ?? []).map((m) => ({
      reason: m.MessageAttributes?.reason?.StringValue,
      record: JSON.parse(m.Body ?? '{}') as { messageId: string; body: string; reason: string },
    }));
    expect(dead).toHaveLength(1);
    expect(dead[0]?.record).toMatchObject({ messageId: 'q4', body: body(malformed) });
    expect(dead[0]?.reason).toMatch(/^malformed "CloudWatch Alarm State Change" event: .*alarmName/);
  });

  it('retries an unreachable database with backoff, then fails the invocation without publishing', async () => {
    // A proxy port nobody listens on: every connection is refused.
    const deadPool = createPool({ url: database.db.url, wsProxy: '127.0.0.1:1' });
    const retries: number[] = [];
    const deadStore = new PostgresPerceptionStore(deadPool, {
      attempts: 3,
      baseDelayMs: 10,
      onRetry: (_error, attempt) => retries.push(attempt),
    });
    // The registry read succeeds (a healthy replica, say); the write path is what loses the database.
    deadStore.watchedService = (ref) => store.watchedService(ref);
    const handler = createHandler(async () => ({ ...deps, store: deadStore }), logger, metrics);
    const event = ecsMetricAlarmEvent({ cluster, service, alarmName: 'api-disk' });
    await expect(handler(event, context)).rejects.toBeInstanceOf(DependencyUnavailableError);
    expect(retries).toEqual([1, 2]);
    await deadPool.end();
    expect((await database.pool.query('SELECT 1 FROM signals WHERE id = $1', [event.id])).rows).toEqual([]);
  });
});
