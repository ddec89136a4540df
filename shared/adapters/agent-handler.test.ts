import { describe, expect, it } from 'vitest';
import { DependencyUnavailableError, InvalidEventError } from '../domain/errors.ts';
import { createMetrics } from '../observability/metrics.ts';
import { FakeDeadLetters } from '../testing/fakes.ts';
import { capturingLogger, lambdaContext } from '../testing/logging.ts';
import { busAgentHandler } from './agent-handler.ts';

const event = { detail: { incidentId: 'inc-1', type: 'plan.approved' } };

function handlerRunning(run: (event: unknown) => Promise<{ outcome: string }>) {
  const deadLetters = new FakeDeadLetters();
  const { logger, lines } = capturingLogger();
  const handler = busAgentHandler({
    deps: async () => ({ deadLetters }),
    logger,
    metrics: createMetrics('test'),
    run,
    message: 'handled',
  });
  return { handler, deadLetters, lines };
}

describe('bus agent handler', () => {
  it('logs the result keyed by the incident', async () => {
    const { handler, lines } = handlerRunning(async () => ({ outcome: 'executed' }));
    expect(await handler(event, lambdaContext('act'))).toEqual({ outcome: 'executed' });
    expect(lines.find((l) => l.message === 'handled')).toMatchObject({
      correlationId: 'inc-1',
      result: { outcome: 'executed' },
    });
  });

  it('dead-letters a malformed event with the reason and acknowledges it', async () => {
    const { handler, deadLetters } = handlerRunning(async () => {
      throw new InvalidEventError('not a plan.approved event', ['detail.data.step: missing']);
    });
    expect(await handler(event, lambdaContext('act'))).toMatchObject({
      outcome: 'rejected',
      reason: expect.stringContaining('not a plan.approved event'),
    });
    expect(deadLetters.rejected).toEqual([
      expect.objectContaining({
        reason: expect.stringContaining('not a plan.approved event'),
        issues: ['detail.data.step: missing'],
      }),
    ]);
  });

  it('runs again when the database connection broke, and throws anything else for Lambda to retry', async () => {
    let calls = 0;
    const flaky = handlerRunning(async () => {
      calls += 1;
      if (calls === 1) throw new DependencyUnavailableError('Postgres', 'Connection terminated unexpectedly');
      return { outcome: 'planned' };
    });
    expect(await flaky.handler(event, lambdaContext('plan'))).toEqual({ outcome: 'planned' });
    expect(calls).toBe(2);

    const broken = handlerRunning(async () => {
      throw new Error('ECS said no');
    });
    await expect(broken.handler(event, lambdaContext('plan'))).rejects.toThrow('ECS said no');
    expect(broken.deadLetters.rejected).toEqual([]);
  });
});
