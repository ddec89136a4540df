import { describe, expect, it } from 'vitest';
import { alarmStateChangeSchema } from '../events/cloudwatch-alarm.ts';
import { compositeAlarmEvent, ecsMetricAlarmEvent, metricMathAlarmEvent } from '../testing/alarm-events.ts';
import { serviceFromAlarm, signalFromAlarm } from './signal.ts';

const parse = (event: unknown) => alarmStateChangeSchema.parse(event);

describe('serviceFromAlarm', () => {
  it('reads ClusterName and ServiceName from a metric alarm', () => {
    expect(serviceFromAlarm(parse(ecsMetricAlarmEvent({ cluster: 'shop', service: 'api' })))).toEqual({
      cluster: 'shop',
      service: 'api',
    });
  });

  it('finds the service among the metrics of a metric-math alarm', () => {
    expect(serviceFromAlarm(parse(metricMathAlarmEvent({ cluster: 'shop', service: 'cart' })))).toEqual({
      cluster: 'shop',
      service: 'cart',
    });
  });

  it('returns null when only one of the two dimensions is present', () => {
    expect(serviceFromAlarm(parse(ecsMetricAlarmEvent({ cluster: 'shop' })))).toBeNull();
  });

  it('returns null for a composite alarm, which has no metrics', () => {
    expect(serviceFromAlarm(parse(compositeAlarmEvent()))).toBeNull();
  });
});

describe('signalFromAlarm', () => {
  it('keeps the event id, states, reason, time and the raw event', () => {
    const event = ecsMetricAlarmEvent({
      id: 'evt-1',
      alarmName: 'api-5xx',
      cluster: 'shop',
      service: 'api',
      state: 'ALARM',
      previousState: 'OK',
      time: new Date('2026-11-20T10:00:00Z'),
    });
    const signal = signalFromAlarm(parse(event));
    expect(signal).toMatchObject({
      id: 'evt-1',
      kind: 'alarm',
      name: 'api-5xx',
      state: 'ALARM',
      previousState: 'OK',
      service: { cluster: 'shop', service: 'api' },
    });
    expect(signal.reason).toMatch(/^Threshold Crossed/);
    expect(signal.occurredAt.toISOString()).toBe('2026-11-20T10:00:00.000Z');
    expect(signal.raw).toMatchObject({ id: 'evt-1', detail: { alarmName: 'api-5xx' } });
  });
});
