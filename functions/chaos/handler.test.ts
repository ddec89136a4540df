import { Metrics } from '@aws-lambda-powertools/metrics';
import { describe, expect, it } from 'vitest';
import { recordChaosMetrics } from './handler.ts';

/** The values the agent's metrics carry, by name (EMF, as flushed). */
function counted(record: (metrics: Metrics) => void): Record<string, unknown> {
  const metrics = new Metrics({ namespace: 'Test', serviceName: 'chaos' });
  record(metrics);
  return metrics.serializeMetrics() as unknown as Record<string, unknown>;
}

describe('chaos agent metrics', () => {
  it('counts a failed injection whose immediate revert failed as ChaosRevertFailed (the self-alarm)', () => {
    const emitted = counted((m) =>
      recordChaosMetrics(m, {
        outcome: 'failed',
        experimentId: 'e1',
        reason: 'injecting failed: throttled; reverting it at once failed too: throttled',
        state: 'revert_failed',
      }),
    );
    expect(emitted).toMatchObject({ ChaosFailed: 1, ChaosRevertFailed: 1 });
  });

  it('counts a failed injection that was undone as ChaosFailed only', () => {
    const emitted = counted((m) =>
      recordChaosMetrics(m, {
        outcome: 'failed',
        experimentId: 'e2',
        reason: 'reverted at once',
        state: 'failed',
      }),
    );
    expect(emitted).toMatchObject({ ChaosFailed: 1 });
    expect(emitted).not.toHaveProperty('ChaosRevertFailed');
  });

  it('counts what a kill-switch sweep undid', () => {
    const emitted = counted((m) =>
      recordChaosMetrics(m, {
        outcome: 'swept',
        reverts: [
          {
            outcome: 'reverted',
            experimentId: 'e3',
            needed: true,
            operations: [],
            score: null,
            finalScore: false,
          },
        ],
        killSwitch: { reason: 'on', fisStopped: ['EXP1'], fisError: null },
      }),
    );
    expect(emitted).toMatchObject({
      ChaosKillSwitchReverts: 1,
      ChaosKillSwitchFisStopped: 1,
      ChaosRevertNeeded: 1,
    });
  });
});
