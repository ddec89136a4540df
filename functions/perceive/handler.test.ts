import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { Context } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { InvalidEventError } from '#shared/domain/errors.ts';
import { ecsMetricAlarmEvent } from '#shared/testing/alarm-events.ts';
import { taskStoppedEvent } from '#shared/testing/ecs-events.ts';
import {
  EmptyHistoryStore,
  FakeAlarmTags,
  FakeBus,
  FakeCounters,
  FakeEcs,
  fixedClock,
  watched,
} from '#shared/testing/fakes.ts';
import { createHandler } from './handler.ts';

/** Captures the logger's JSON lines instead of printing them. */
function capturingLogger() {
  const lines: Record<string, unknown>[] = [];
  const logger = new Logger({ serviceName: 'test' });
  const write = (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>);
  (logger as unknown as { console: Record<string, (line: string) => void> }).console = {
    info: write,
    error: write,
    warn: write,
    debug: write,
    log: write,
    trace: write,
  };
  return { logger, lines };
}

const context = {
  functionName: 'perceive',
  awsRequestId: 'req-1',
  getRemainingTimeInMillis: () => 30_000,
} as Context;

function setup() {
  const counters = new FakeCounters();
  const bus = new FakeBus();
  const store = new EmptyHistoryStore([watched('shop', 'api')]);
  const deps = {
    ecs: new FakeEcs(),
    alarmTags: new FakeAlarmTags(),
    store,
    bus,
    counters,
    clock: fixedClock('2026-11-20T10:00:00Z'),
  };
  const { logger, lines } = capturingLogger();
  const metrics = new Metrics({ namespace: 'Test', serviceName: 'test' });
  return { deps, lines, handler: createHandler(async () => deps, logger, metrics) };
}

describe('perceive handler', () => {
  it('opens an incident for a fault on a watched service and logs it under the incident id', async () => {
    const { handler, lines, deps } = setup();
    const result = await handler(
      ecsMetricAlarmEvent({ id: 'evt-9', cluster: 'shop', service: 'api' }),
      context,
    );
    expect(result).toMatchObject({ outcome: 'opened', signalId: 'evt-9', incidentId: 'incident-1' });
    expect(deps.bus.published.map((e) => e.type)).toEqual(['signal.received', 'incident.opened']);
    const line = lines.find((l) => l.message === 'signal recorded');
    expect(line).toMatchObject({
      correlationId: 'incident-1',
      signalId: 'evt-9',
      ecsService: { cluster: 'shop', service: 'api' },
    });
  });

  it('counts and ignores a signal for a service that is not watched', async () => {
    const { handler, deps } = setup();
    const result = await handler(taskStoppedEvent({ cluster: 'shop', service: 'unwatched' }), context);
    expect(result).toEqual({ outcome: 'ignored:not_watched' });
    expect(deps.counters.counts.get('EventsIgnored reason=not_watched')).toBe(1);
    expect(deps.bus.published).toEqual([]);
  });

  it('counts and ignores an unknown detail-type', async () => {
    const { handler, deps } = setup();
    const result = await handler(
      { id: 'x', source: 'aws.ec2', 'detail-type': 'EC2 Instance State-change Notification' },
      context,
    );
    expect(result).toEqual({ outcome: 'ignored:unknown_detail_type' });
    expect(deps.counters.counts.get('EventsIgnored reason=unknown_detail_type')).toBe(1);
  });

  it('logs the reason for a malformed event and fails the invocation so the DLQ keeps it', async () => {
    const { handler, lines, deps } = setup();
    await expect(
      handler(
        { id: 'bad-1', source: 'aws.cloudwatch', 'detail-type': 'CloudWatch Alarm State Change' },
        context,
      ),
    ).rejects.toBeInstanceOf(InvalidEventError);
    const line = lines.find((l) => l.message === 'event rejected');
    expect(line?.level).toBe('ERROR');
    expect(line?.correlationId).toBe('bad-1');
    expect(String(line?.reason)).toMatch(/detail/);
    expect(deps.store.ingested).toEqual([]);
  });

  it('does not carry one event’s correlation id over to the next', async () => {
    const { handler, lines } = setup();
    await handler(ecsMetricAlarmEvent({ id: 'evt-a', cluster: 'shop', service: 'api' }), context);
    await expect(handler({ nope: true }, context)).rejects.toThrow();
    expect(lines.find((l) => l.message === 'event rejected')?.correlationId).toBeUndefined();
  });

  it('runs the quiet-incident sweep on the scheduled event', async () => {
    const { handler } = setup();
    const result = await handler(
      { id: 's', source: 'aws.events', 'detail-type': 'Scheduled Event', detail: {} },
      context,
    );
    expect(result).toEqual({ outcome: 'swept', selfResolved: 0 });
  });
});
