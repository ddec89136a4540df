import { describe, expect, it } from 'vitest';
import {
  compositeAlarmSuppressedEvent,
  fargateSpotInterruptionEvent,
  serviceSteadyStateEvent,
} from '../testing/aws-doc-events.ts';
import { withEnvelopeDefaults } from './envelope-defaults.ts';
import { parseInbound } from './inbound.ts';

const now = new Date('2026-11-20T10:00:00Z');

describe('withEnvelopeDefaults', () => {
  it('fills the time and region the Fargate Spot snippet lacks, from the event itself', () => {
    const { event, missing } = withEnvelopeDefaults(fargateSpotInterruptionEvent, now);
    expect(missing).toEqual([
      { field: 'time', value: '2016-12-06T16:41:05.702Z', from: 'detail.createdAt' },
      { field: 'region', value: 'us-east-1', from: 'resources[0]' },
    ]);
    expect(event).toMatchObject({
      time: '2016-12-06T16:41:05.702Z',
      region: 'us-east-1',
      account: '111122223333',
    });
    expect(parseInbound(event).status).toBe('known');
    expect(fargateSpotInterruptionEvent).not.toHaveProperty('time');
  });

  it('changes nothing in a whole event', () => {
    const { event, missing } = withEnvelopeDefaults(compositeAlarmSuppressedEvent, now);
    expect(missing).toEqual([]);
    expect(event).toBe(compositeAlarmSuppressedEvent);
  });

  it('fills account, id and version too; the same event gets the same id', () => {
    const { version: _v, id: _id, account: _a, time: _t, region: _r, ...bare } = serviceSteadyStateEvent;
    const first = withEnvelopeDefaults(bare, now);
    expect(first.missing.map((m) => m.field)).toEqual(['version', 'id', 'account', 'time', 'region']);
    expect(first.event).toMatchObject({
      version: '0',
      account: '111122223333',
      region: 'us-west-2',
      time: '2019-11-19T19:27:22.695Z',
    });
    expect((first.event as { id: string }).id).toMatch(/^undocumented-[0-9a-f]{16}$/);
    expect((withEnvelopeDefaults(bare, now).event as { id: string }).id).toBe(
      (first.event as { id: string }).id,
    );
  });

  it('reads an alarm state timestamp (+0000) as the time, and falls back to now and "unknown"', () => {
    const alarm = withEnvelopeDefaults(
      {
        source: 'aws.cloudwatch',
        'detail-type': 'CloudWatch Alarm State Change',
        detail: { state: { timestamp: '2022-07-22T15:57:45.394+0000' } },
      },
      now,
    );
    expect(alarm.missing.find((m) => m.field === 'time')).toEqual({
      field: 'time',
      value: '2022-07-22T15:57:45.394Z',
      from: 'detail.state.timestamp',
    });
    const bare = withEnvelopeDefaults({ source: 'aws.ecs', 'detail-type': 'ECS Task State Change' }, now);
    expect(bare.event).toMatchObject({ time: now.toISOString(), region: 'unknown', account: 'unknown' });
  });

  it('never replaces a field that is present, even a malformed one', () => {
    const { event, missing } = withEnvelopeDefaults({ ...serviceSteadyStateEvent, time: 'yesterday' }, now);
    expect(missing).toEqual([]);
    expect(() => parseInbound(event)).toThrow(/malformed/);
  });
});
