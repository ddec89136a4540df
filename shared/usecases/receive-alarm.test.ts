import { describe, expect, it } from 'vitest';
import { DependencyUnavailableError, InvalidEventError } from '../domain/errors.ts';
import { signalReceivedDataSchema } from '../events/catalog.ts';
import { envelopeSchema } from '../events/envelope.ts';
import { compositeAlarmEvent, ecsMetricAlarmEvent } from '../testing/alarm-events.ts';
import { FakeBus, FakeEcs, FakeSignalStore, fixedClock } from '../testing/fakes.ts';
import { receiveAlarm } from './receive-alarm.ts';

const snapshot = {
  status: 'ACTIVE',
  desiredCount: 3,
  runningCount: 2,
  pendingCount: 1,
  taskDefinition: 'arn:td/api:7',
};

function setup(ecs = new FakeEcs(new Map([['shop/api', snapshot]]))) {
  const deps = {
    ecs,
    signals: new FakeSignalStore(),
    bus: new FakeBus(),
    clock: fixedClock('2026-11-20T10:00:05Z'),
  };
  return deps;
}

describe('receiveAlarm', () => {
  it('resolves the ECS service, records the signal with its snapshot and publishes signal.received', async () => {
    const deps = setup();
    const event = ecsMetricAlarmEvent({ id: 'evt-1', cluster: 'shop', service: 'api' });
    const result = await receiveAlarm(event, deps);

    expect(deps.ecs.calls).toEqual([{ cluster: 'shop', service: 'api' }]);
    expect(result.firstDelivery).toBe(true);
    expect(deps.signals.rows.get('evt-1')?.snapshot).toEqual(snapshot);
    expect(deps.bus.published).toHaveLength(1);
    const envelope = deps.bus.published[0];
    expect(envelopeSchema.parse(envelope)).toMatchObject({
      type: 'signal.received',
      source: 'homeostat.perceive',
      causationId: 'evt-1',
      correlationId: 'evt-1',
      time: '2026-11-20T10:00:05.000Z',
    });
    expect(signalReceivedDataSchema.parse(envelope?.data)).toMatchObject({
      signalId: 'evt-1',
      state: 'ALARM',
      service: { cluster: 'shop', service: 'api' },
      serviceSnapshot: snapshot,
    });
  });

  it('records an alarm with no service dimensions without calling ECS', async () => {
    const deps = setup();
    await receiveAlarm(compositeAlarmEvent({ id: 'evt-2' }), deps);
    expect(deps.ecs.calls).toEqual([]);
    expect(deps.signals.rows.get('evt-2')?.signal.service).toBeNull();
    expect(deps.bus.published[0]?.data).toMatchObject({ service: null, serviceSnapshot: null });
  });

  it('keeps the service reference when ECS does not know the service', async () => {
    const deps = setup(new FakeEcs());
    await receiveAlarm(ecsMetricAlarmEvent({ id: 'evt-3', cluster: 'shop', service: 'gone' }), deps);
    expect(deps.bus.published[0]?.data).toMatchObject({
      service: { cluster: 'shop', service: 'gone' },
      serviceSnapshot: null,
    });
  });

  it('treats a redelivered event as a duplicate: one row, the same event id published again', async () => {
    const deps = setup();
    const event = ecsMetricAlarmEvent({ id: 'evt-4', cluster: 'shop', service: 'api' });
    const first = await receiveAlarm(event, deps);
    const second = await receiveAlarm(event, deps);
    expect(second.firstDelivery).toBe(false);
    expect(deps.signals.rows.size).toBe(1);
    expect(second.published.id).toBe(first.published.id);
  });

  it('rejects a malformed event before writing or publishing anything', async () => {
    const deps = setup();
    await expect(
      receiveAlarm({ 'detail-type': 'CloudWatch Alarm State Change' }, deps),
    ).rejects.toBeInstanceOf(InvalidEventError);
    expect(deps.ecs.calls).toEqual([]);
    expect(deps.signals.rows.size).toBe(0);
    expect(deps.bus.published).toEqual([]);
  });

  it('writes and publishes nothing when ECS fails, so the retry starts clean', async () => {
    const deps = setup(new FakeEcs(new Map(), new DependencyUnavailableError('ECS', 'throttled')));
    await expect(
      receiveAlarm(ecsMetricAlarmEvent({ cluster: 'shop', service: 'api' }), deps),
    ).rejects.toBeInstanceOf(DependencyUnavailableError);
    expect(deps.signals.rows.size).toBe(0);
    expect(deps.bus.published).toEqual([]);
  });
});
