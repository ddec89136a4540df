import { Metrics } from '@aws-lambda-powertools/metrics';
import { describe, expect, it } from 'vitest';
import { DependencyUnavailableError, InvalidEventError } from '#shared/domain/errors.ts';
import { ecsMetricAlarmEvent } from '#shared/testing/alarm-events.ts';
import { taskStoppedEvent } from '#shared/testing/ecs-events.ts';
import {
  EmptyHistoryStore,
  FakeAlarmTags,
  FakeBus,
  FakeCounters,
  FakeDeadLetters,
  FakeEcs,
  fixedClock,
  watched,
} from '#shared/testing/fakes.ts';
import { capturingLogger, lambdaContext } from '#shared/testing/logging.ts';
import { createHandler } from './handler.ts';

const context = lambdaContext('perceive');

function setup(deadLetters = new FakeDeadLetters()) {
  const counters = new FakeCounters();
  const bus = new FakeBus();
  const store = new EmptyHistoryStore([watched('shop', 'api')]);
  const deps = {
    ecs: new FakeEcs(),
    alarmTags: new FakeAlarmTags(),
    store,
    bus,
    counters,
    deadLetters,
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

  describe('a batch from the perception queue', () => {
    const record = (messageId: string, body: unknown) => ({
      messageId,
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    const malformed = {
      id: 'bad-2',
      source: 'aws.cloudwatch',
      'detail-type': 'CloudWatch Alarm State Change',
    };

    it('records the good events together and dead-letters the malformed ones with the reason', async () => {
      const { handler, deps } = setup();
      const result = await handler(
        {
          Records: [
            record('m1', ecsMetricAlarmEvent({ id: 'evt-1', cluster: 'shop', service: 'api' })),
            record('m2', malformed),
            record('m3', '{not json'),
            record('m4', taskStoppedEvent({ id: 'evt-4', cluster: 'shop', service: 'api' })),
          ],
        },
        context,
      );
      expect(result).toEqual({ batchItemFailures: [] });
      // One batch: the task failure joins the incident the alarm opened a moment earlier.
      expect(deps.bus.published.map((e) => e.type)).toEqual([
        'signal.received',
        'incident.opened',
        'signal.received',
        'incident.updated',
      ]);
      expect(deps.deadLetters.rejected.map((r) => [r.messageId, r.reason])).toEqual([
        ['m2', expect.stringMatching(/^malformed "CloudWatch Alarm State Change" event: .*detail/)],
        ['m3', 'message body is not JSON'],
      ]);
      expect(deps.deadLetters.rejected[1]?.body).toBe('{not json');
    });

    it('retries every message of a batch when a dependency is unavailable', async () => {
      const { handler, deps } = setup();
      deps.store.ingestBatch = async () => {
        throw new DependencyUnavailableError('Postgres', 'connection refused');
      };
      const result = await handler(
        {
          Records: [
            record('m1', ecsMetricAlarmEvent({ cluster: 'shop', service: 'api' })),
            record('m2', taskStoppedEvent({ cluster: 'shop', service: 'api' })),
          ],
        },
        context,
      );
      expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: 'm1' }, { itemIdentifier: 'm2' }] });
    });

    it('narrows any other failure down to the event that causes it', async () => {
      const { handler, deps } = setup();
      const ingest = deps.store.ingestBatch.bind(deps.store);
      deps.store.ingestBatch = async (requests) => {
        if (requests.some((r) => r.signal.id === 'poison')) throw new Error('value out of range');
        return ingest(requests);
      };
      const result = await handler(
        {
          Records: [
            record('m1', ecsMetricAlarmEvent({ id: 'fine', cluster: 'shop', service: 'api' })),
            record('m2', taskStoppedEvent({ id: 'poison', cluster: 'shop', service: 'api' })),
          ],
        },
        context,
      );
      expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: 'm2' }] });
      expect(deps.bus.published.map((e) => e.data)).toContainEqual(
        expect.objectContaining({ signalId: 'fine' }),
      );
    });

    it('leaves a rejected event on the queue when the dead-letter queue cannot take it', async () => {
      const { handler } = setup(new FakeDeadLetters(new Error('SQS unavailable')));
      const result = await handler({ Records: [record('m1', malformed)] }, context);
      expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: 'm1' }] });
    });
  });
});
