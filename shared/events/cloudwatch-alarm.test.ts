import { describe, expect, it } from 'vitest';
import { InvalidEventError } from '../domain/errors.ts';
import { compositeAlarmEvent, ecsMetricAlarmEvent, metricMathAlarmEvent } from '../testing/alarm-events.ts';
import { deploymentEvent, serviceActionEvent, taskStoppedEvent } from '../testing/ecs-events.ts';
import { parseInbound } from './inbound.ts';

const reject = (event: unknown) => {
  try {
    parseInbound(event);
  } catch (error) {
    return error as InvalidEventError;
  }
  throw new Error('expected a rejection');
};

describe('parseInbound', () => {
  it.each([
    ['metric alarm', ecsMetricAlarmEvent({ cluster: 'c', service: 's' }), 'alarm'],
    ['metric-math alarm', metricMathAlarmEvent(), 'alarm'],
    ['composite alarm', compositeAlarmEvent(), 'alarm'],
    ['OK state', ecsMetricAlarmEvent({ state: 'OK', previousState: 'ALARM' }), 'alarm'],
    ['INSUFFICIENT_DATA state', ecsMetricAlarmEvent({ state: 'INSUFFICIENT_DATA' }), 'alarm'],
    ['task state change', taskStoppedEvent(), 'task'],
    ['deployment state change', deploymentEvent(), 'deployment'],
    ['service action', serviceActionEvent(), 'service_action'],
  ])('accepts a %s as AWS documents it', (_name, event, type) => {
    const parsed = parseInbound(event);
    expect(parsed.status).toBe('known');
    expect(parsed.status === 'known' && parsed.inbound.type).toBe(type);
  });

  it('reports an unknown detail-type instead of failing', () => {
    expect(
      parseInbound({
        source: 'aws.ec2',
        'detail-type': 'EC2 Instance State-change Notification',
        detail: {},
      }),
    ).toEqual({
      status: 'unknown',
      source: 'aws.ec2',
      detailType: 'EC2 Instance State-change Notification',
    });
  });

  it.each([
    ['not an object', 'hello', /not an EventBridge event/],
    ['no detail-type', { source: 'aws.cloudwatch' }, /not an EventBridge event/],
    [
      'an unknown alarm state',
      (() => {
        const e = ecsMetricAlarmEvent();
        (e.detail.state as { value: string }).value = 'BROKEN';
        return e;
      })(),
      /detail\.state\.value: Invalid option/,
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
    [
      'a task event without a task ARN',
      { ...taskStoppedEvent(), detail: { lastStatus: 'STOPPED', clusterArn: 'x' } },
      /detail\.taskArn/,
    ],
  ])('rejects %s with a reason naming the field', (_name, event, reason) => {
    const error = reject(event);
    expect(error).toBeInstanceOf(InvalidEventError);
    expect(error.message).toMatch(reason);
  });
});
