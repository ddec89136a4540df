import { busAgentHandler } from '#shared/adapters/agent-handler.ts';
import { lazy } from '#shared/adapters/aws-clients.ts';
import { chaosWiring } from '#shared/adapters/chaos-wiring.ts';
import type { DeadLetterSink } from '#shared/domain/ports.ts';
import { createLogger } from '#shared/observability/logger.ts';
import { createMetrics, metricsCounters } from '#shared/observability/metrics.ts';
import { type ChaosDeps, type ChaosResult, handleChaosEvent } from '#shared/usecases/chaos.ts';

/**
 * Chaos agent: chaos.run (a Scheduler schedule or the CLI) → guardrails →
 * inject → revert scheduled → chaos.injected; chaos.revert (its one-time
 * schedule) → revert, retried with backoff, escalated when it keeps failing;
 * a sweep every few minutes reverts anything overdue; learning.recorded →
 * the game-day score. Metrics feed the dashboard and the revert-failed alarm.
 */
const logger = createLogger('homeostat-chaos');
const metrics = createMetrics('homeostat-chaos');
const wiring = lazy(chaosWiring);

function recordMetrics(result: ChaosResult) {
  const count = metricsCounters(metrics).increment;
  const results = result.outcome === 'swept' ? result.reverts : [result];
  for (const r of results) {
    if (r.outcome === 'refused') count('ChaosRefused', { guard: r.guard });
    if (r.outcome === 'injected') count('ChaosInjected');
    if (r.outcome === 'failed') count('ChaosFailed');
    if (r.outcome === 'revert_retry') count('ChaosRevertRetried');
    if (r.outcome === 'revert_failed') count('ChaosRevertFailed');
    if (r.outcome === 'reverted' && r.needed) count('ChaosRevertNeeded');
    if ((r.outcome === 'reverted' || r.outcome === 'scored') && r.finalScore && r.score) {
      const s = r.score;
      metrics.addMetric('GameDayScore', 'None', s.score);
      count('GameDays', {
        detected: String(s.detected),
        diagnosisCorrect: String(s.diagnosisCorrect),
        mitigated: String(s.mitigated),
      });
      if (s.timeToDetectMs !== null)
        metrics.addMetric('GameDayTimeToDetect', 'Milliseconds', s.timeToDetectMs);
      if (s.timeToMitigateMs !== null)
        metrics.addMetric('GameDayTimeToMitigate', 'Milliseconds', s.timeToMitigateMs);
    }
  }
}

export const handler = busAgentHandler({
  deps: () => wiring().deps(),
  logger,
  metrics,
  run: async (event: unknown, deps: ChaosDeps & { deadLetters: DeadLetterSink }) => {
    const result = await handleChaosEvent(event, deps);
    recordMetrics(result);
    return result;
  },
  message: 'chaos handled',
});
