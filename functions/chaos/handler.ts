import type { Metrics } from '@aws-lambda-powertools/metrics';
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
 * a failed or partial injection is undone at once from what it recorded
 * (revert_failed when that fails too); a sweep every few minutes reverts
 * anything overdue, and everything live while the kill switch is on; learning.recorded →
 * the game-day score. Experiments and guardrails come from SSM parameters the deploy
 * writes (cached 60 s); an invalid experiment parameter is logged and skipped. Metrics feed the dashboard and the revert-failed alarm.
 */
const logger = createLogger('homeostat-chaos');
const metrics = createMetrics('homeostat-chaos');
const wiring = lazy(chaosWiring);

/** What the dashboard and the self-alarms count (ChaosRevertFailed raises homeostat-self-chaos-revert-failed). */
export function recordChaosMetrics(metrics: Metrics, result: ChaosResult) {
  const count = metricsCounters(metrics).increment;
  const results = result.outcome === 'swept' ? result.reverts : [result];
  if (result.outcome === 'swept' && result.killSwitch) {
    // The kill switch's sweep: what it undid before its time.
    metrics.addMetric(
      'ChaosKillSwitchReverts',
      'Count',
      result.reverts.filter((r) => r.outcome === 'reverted').length,
    );
    metrics.addMetric('ChaosKillSwitchFisStopped', 'Count', result.killSwitch.fisStopped.length);
  }
  for (const r of results) {
    if (r.outcome === 'refused') count('ChaosRefused', { guard: r.guard });
    if (r.outcome === 'injected') count('ChaosInjected');
    if (r.outcome === 'failed') count('ChaosFailed');
    // A failed injection that could not be undone at once raises the revert-failed alarm too.
    if (r.outcome === 'failed' && r.state === 'revert_failed') count('ChaosRevertFailed');
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
  deps: () => wiring().deps(logger),
  logger,
  metrics,
  run: async (event: unknown, deps: ChaosDeps & { deadLetters: DeadLetterSink }) => {
    const result = await handleChaosEvent(event, deps);
    recordChaosMetrics(metrics, result);
    return result;
  },
  message: 'chaos handled',
});
