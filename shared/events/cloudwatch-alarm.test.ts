import { describe, expect, it } from 'vitest';
import { InvalidEventError } from '../domain/errors.ts';
import { compositeAlarmEvent, ecsMetricAlarmEvent, metricMathAlarmEvent } from '../testing/alarm-events.ts';
import { parseAlarmEvent } from '../usecases/receive-alarm.ts';

describe('alarm state change parsing', () => {
  it.each([
    ['metric alarm', ecsMetricAlarmEvent({ cluster: 'c', service: 's' })],
    ['metric-math alarm', metricMathAlarmEvent()],
    ['composite alarm', compositeAlarmEvent()],
    ['OK state', ecsMetricAlarmEvent({ state: 'OK', previousState: 'ALARM' })],
    ['INSUFFICIENT_DATA state', ecsMetricAlarmEvent({ state: 'INSUFFICIENT_DATA' })],
  ])('accepts a %s as AWS documents it', (_name, event) => {
    expect(parseAlarmEvent(event).detail.alarmName).toBe(event.detail.alarmName);
  });

  it('defaults a composite alarm to no metrics', () => {
    expect(parseAlarmEvent(compositeAlarmEvent()).detail.configuration.metrics).toEqual([]);
  });

  it.each([
    ['not an object', 'hello', /\(root\)/],
    [
      'another detail-type',
      { ...ecsMetricAlarmEvent(), 'detail-type': 'ECS Task State Change' },
      /detail-type/,
    ],
    [
      'an unknown state',
      (() => {
        const e = ecsMetricAlarmEvent();
        (e.detail.state as { value: string }).value = 'BROKEN';
        return e;
      })(),
      /detail\.state\.value/,
    ],
    [
      'a missing alarm name',
      (() => {
        const e = ecsMetricAlarmEvent();
        (e.detail as { alarmName?: string }).alarmName = undefined;
        return e;
      })(),
      /detail\.alarmName/,
    ],
    ['a bad timestamp', { ...ecsMetricAlarmEvent(), time: 'yesterday' }, /time: Invalid ISO datetime/],
  ])('rejects %s with a reason naming the field', (_name, event, reason) => {
    let caught: unknown;
    try {
      parseAlarmEvent(event);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(InvalidEventError);
    expect((caught as InvalidEventError).message).toMatch(reason);
    expect((caught as InvalidEventError).message).not.toMatch(/: Invalid input$/);
  });
});
