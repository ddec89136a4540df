import { Logger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { InvalidEventError } from '#shared/domain/errors.ts';
import { ecsMetricAlarmEvent } from '#shared/testing/alarm-events.ts';
import { FakeBus, FakeEcs, FakeSignalStore, fixedClock } from '#shared/testing/fakes.ts';
import { createHandler } from './handler.ts';

/** Captures the logger's JSON lines instead of printing them. */
function capturingLogger() {
  const lines: Record<string, unknown>[] = [];
  const logger = new Logger({
    serviceName: 'test',
    logRecordOrder: ['message'],
  });
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
  const deps = {
    ecs: new FakeEcs(),
    signals: new FakeSignalStore(),
    bus: new FakeBus(),
    clock: fixedClock('2026-11-20T10:00:00Z'),
  };
  const { logger, lines } = capturingLogger();
  return { deps, lines, handler: createHandler(async () => deps, logger) };
}

describe('perceive handler', () => {
  it('returns the signal id and logs it with the event id as correlation id', async () => {
    const { handler, lines, deps } = setup();
    const result = await handler(
      ecsMetricAlarmEvent({ id: 'evt-9', cluster: 'shop', service: 'api' }),
      context,
    );
    expect(result).toEqual({ signalId: 'evt-9', firstDelivery: true });
    expect(deps.bus.published).toHaveLength(1);
    const line = lines.find((l) => l.message === 'signal received');
    expect(line).toMatchObject({
      correlationId: 'evt-9',
      signalId: 'evt-9',
      ecsService: { cluster: 'shop', service: 'api' },
    });
  });

  it('logs the reason for a malformed event and fails the invocation so the DLQ keeps it', async () => {
    const { handler, lines, deps } = setup();
    await expect(handler({ id: 'bad-1', source: 'aws.cloudwatch' }, context)).rejects.toBeInstanceOf(
      InvalidEventError,
    );
    const line = lines.find((l) => l.message === 'event rejected');
    expect(line?.level).toBe('ERROR');
    expect(line?.correlationId).toBe('bad-1');
    expect(String(line?.reason)).toMatch(/detail-type/);
    expect(deps.signals.rows.size).toBe(0);
  });

  it('does not carry one event’s correlation id over to the next', async () => {
    const { handler, lines } = setup();
    await handler(ecsMetricAlarmEvent({ id: 'evt-a' }), context);
    await expect(handler({ nope: true }, context)).rejects.toThrow();
    expect(lines.find((l) => l.message === 'event rejected')?.correlationId).toBeUndefined();
  });
});
