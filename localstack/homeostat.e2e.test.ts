import { ECSClient } from '@aws-sdk/client-ecs';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, type Pool } from '../shared/adapters/database.ts';
import { ecsMetricAlarmEvent } from '../shared/testing/alarm-events.ts';
import { type LocalDatabase, startLocalDatabase } from './db-server.ts';
import { deleteStack, deployLocal, stackOutputs } from './deploy-local.ts';
import { waitFor } from './harness.ts';
import {
  captureEvents,
  createEcsService,
  type EventCapture,
  emulatorClientConfig,
  emulatorEndpoint,
  uniqueName,
} from './testing.ts';

/**
 * Through a real cdklocal deployment: an alarm on the default bus reaches the
 * deployed perception Lambda, which describes the ECS service, writes Postgres
 * through the Neon driver, and emits signal.received on the homeostat bus.
 */
describe('deployed Homeostat stack in the emulator', () => {
  const stackName = 'HomeostatE2E';
  const busName = uniqueName('homeostat-e2e');
  const cluster = uniqueName('shop');
  let database: LocalDatabase;
  let pool: Pool;
  let outputs: Record<string, string>;
  let capture: EventCapture;

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
    });
    outputs = await stackOutputs(emulatorEndpoint(), stackName);
    capture = await captureEvents(busName, 'signal.received');
    await createEcsService(new ECSClient(emulatorClientConfig()), cluster, 'api', 2);
  });

  afterAll(async () => {
    await capture?.dispose();
    await deleteStack(emulatorEndpoint(), stackName).catch(() => {});
    await pool?.end();
    await database?.stop();
  });

  it('ran the migrations on deploy through the migrator trigger', async () => {
    const { rows } = await pool.query('SELECT name FROM schema_migrations');
    expect(rows.map((r) => r.name)).toContain('0001_init.sql');
    expect(outputs.BusName).toBe(busName);
  });

  it('turns an alarm on the default bus into a Postgres row and a signal.received event', async () => {
    const alarm = ecsMetricAlarmEvent({ cluster, service: 'api', alarmName: 'api-memory-high-e2e' });
    const events = new EventBridgeClient(emulatorClientConfig());
    const put = await events.send(
      new PutEventsCommand({
        Entries: [
          { Source: alarm.source, DetailType: alarm['detail-type'], Detail: JSON.stringify(alarm.detail) },
        ],
      }),
    );
    expect(put.FailedEntryCount ?? 0).toBe(0);
    const eventId = put.Entries?.[0]?.EventId as string;

    const row = await waitFor(
      'the signal row',
      async () => (await pool.query('SELECT * FROM signals WHERE id = $1', [eventId])).rows[0],
      { timeoutMs: 60_000 },
    );
    expect(row).toMatchObject({ name: 'api-memory-high-e2e', state: 'ALARM', cluster, service: 'api' });
    expect(row.service_snapshot).toMatchObject({ desiredCount: 2, status: 'ACTIVE' });

    const published = await capture.next<{ causationId: string }>((d) => d.causationId === eventId, 60_000);
    expect(published).toMatchObject({
      type: 'signal.received',
      source: 'homeostat.perceive',
      data: { name: 'api-memory-high-e2e', service: { cluster, service: 'api' } },
    });
  });

  it('sends a malformed event to the failure destination with the reason, writing no row', async () => {
    const lambda = new LambdaClient(emulatorClientConfig());
    const bad = {
      id: uniqueName('malformed'),
      source: 'aws.cloudwatch',
      'detail-type': 'CloudWatch Alarm State Change',
    };
    const invoked = await lambda.send(
      new InvokeCommand({
        FunctionName: outputs.PerceptionFunctionName,
        InvocationType: 'Event',
        Payload: Buffer.from(JSON.stringify(bad)),
      }),
    );
    expect(invoked.StatusCode).toBe(202);

    const sqs = new SQSClient(emulatorClientConfig());
    const record = await waitFor(
      'the failure record in the DLQ',
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
    expect(record).toMatch(/not a CloudWatch Alarm State Change event/);
    expect(record).toMatch(/detail/);
    const { rows } = await pool.query('SELECT 1 FROM signals WHERE id = $1', [bad.id]);
    expect(rows).toEqual([]);
  });
});
