import { Logger } from '@aws-lambda-powertools/logger';
import { ECSClient } from '@aws-sdk/client-ecs';
import { CreateEventBusCommand, DeleteEventBusCommand, EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { Context } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool } from '#shared/adapters/database.ts';
import { EcsServiceReaderAdapter } from '#shared/adapters/ecs.ts';
import { EventBridgePublisher } from '#shared/adapters/event-bus.ts';
import { PostgresSignalStore } from '#shared/adapters/signal-store.ts';
import { DependencyUnavailableError, InvalidEventError } from '#shared/domain/errors.ts';
import { systemClock } from '#shared/domain/ports.ts';
import { ecsMetricAlarmEvent } from '#shared/testing/alarm-events.ts';
import type { ReceiveAlarmDeps } from '#shared/usecases/receive-alarm.ts';
import {
  captureEvents,
  createEcsService,
  type EventCapture,
  emulatorClientConfig,
  startMigratedDatabase,
  type TestDatabase,
  uniqueName,
} from '../../localstack/testing.ts';
import { createHandler } from './handler.ts';

/** The perception handler in-process, on real adapters: emulator ECS + EventBridge, PGlite via the Neon driver. */
describe('perceive handler against the emulator and Postgres', () => {
  const context = { functionName: 'perceive', awsRequestId: 'integ' } as Context;
  const logger = new Logger({ serviceName: 'perceive-integ', logLevel: 'SILENT' });
  const cluster = uniqueName('shop');
  const service = 'api';
  let database: TestDatabase;
  let ecs: ECSClient;
  let events: EventBridgeClient;
  let busName: string;
  let capture: EventCapture;
  let deps: ReceiveAlarmDeps;
  let taskDefinitionArn: string;

  beforeAll(async () => {
    const config = emulatorClientConfig();
    ecs = new ECSClient(config);
    events = new EventBridgeClient(config);
    busName = uniqueName('homeostat-integ');
    await events.send(new CreateEventBusCommand({ Name: busName }));
    capture = await captureEvents(busName, 'signal.received');
    taskDefinitionArn = await createEcsService(ecs, cluster, service, 3);
    database = await startMigratedDatabase();
    deps = {
      ecs: new EcsServiceReaderAdapter(ecs),
      bus: new EventBridgePublisher(events, busName),
      signals: new PostgresSignalStore(database.pool),
      clock: systemClock,
    };
  });

  afterAll(async () => {
    await capture?.dispose();
    await events?.send(new DeleteEventBusCommand({ Name: busName }));
    await database?.stop();
  });

  const rowsFor = async (id: string) =>
    (await database.pool.query('SELECT * FROM signals WHERE id = $1', [id])).rows as Record<
      string,
      unknown
    >[];

  it('writes the signal with the ECS snapshot and publishes signal.received on the bus', async () => {
    const handler = createHandler(async () => deps, logger);
    const event = ecsMetricAlarmEvent({ cluster, service, alarmName: 'api-memory-high' });
    await handler(event, context);

    const [row] = await rowsFor(event.id);
    expect(row).toMatchObject({ name: 'api-memory-high', state: 'ALARM', cluster, service });
    expect(row?.service_snapshot).toMatchObject({ desiredCount: 3, taskDefinition: taskDefinitionArn });
    expect(row?.raw).toMatchObject({ id: event.id, detail: { alarmName: 'api-memory-high' } });

    const published = await capture.next<{ data: { signalId: string } }>((d) => d.data.signalId === event.id);
    expect(published).toMatchObject({
      type: 'signal.received',
      source: 'homeostat.perceive',
      causationId: event.id,
      data: { service: { cluster, service }, serviceSnapshot: { desiredCount: 3 } },
    });
  });

  it('writes one row for a redelivered event and republishes the same event id', async () => {
    const handler = createHandler(async () => deps, logger);
    const event = ecsMetricAlarmEvent({ cluster, service });
    expect(await handler(event, context)).toMatchObject({ firstDelivery: true });
    expect(await handler(event, context)).toMatchObject({ firstDelivery: false });
    expect(await rowsFor(event.id)).toHaveLength(1);
    await capture.next<{ data: { signalId: string } }>((d) => d.data.signalId === event.id);
    const ids = new Set(
      capture
        .received()
        .map((e) => e.detail as { id: string; data: { signalId: string } })
        .filter((d) => d.data.signalId === event.id)
        .map((d) => d.id),
    );
    expect(ids.size).toBe(1);
  });

  it('rejects a malformed event without writing a row', async () => {
    const handler = createHandler(async () => deps, logger);
    const event = { ...ecsMetricAlarmEvent({ cluster, service }), detail: { alarmName: 'x' } };
    await expect(handler(event, context)).rejects.toBeInstanceOf(InvalidEventError);
    expect(await rowsFor(event.id)).toEqual([]);
  });

  it('retries an unreachable database with backoff, then fails the invocation without publishing', async () => {
    // A proxy port nobody listens on: every connection is refused.
    const deadPool = createPool({ url: database.db.url, wsProxy: '127.0.0.1:1' });
    const retries: number[] = [];
    const handler = createHandler(
      async () => ({
        ...deps,
        signals: new PostgresSignalStore(deadPool, {
          attempts: 3,
          baseDelayMs: 10,
          onRetry: (_e, n) => retries.push(n),
        }),
      }),
      logger,
    );
    const event = ecsMetricAlarmEvent({ cluster, service });
    await expect(handler(event, context)).rejects.toBeInstanceOf(DependencyUnavailableError);
    expect(retries).toEqual([1, 2]);
    await deadPool.end();
    expect(await rowsFor(event.id)).toEqual([]);
    expect(
      capture.received().some((e) => (e.detail as { data: { signalId: string } }).data.signalId === event.id),
    ).toBe(false);
  });
});
