import { busAgentHandler } from '#shared/adapters/agent-handler.ts';
import { lazy } from '#shared/adapters/aws-clients.ts';
import { learnWiring } from '#shared/adapters/learning-wiring.ts';
import { createLogger } from '#shared/observability/logger.ts';
import { createMetrics } from '#shared/observability/metrics.ts';
import { type LearnDeps, type LearnResult, learnFromIncident } from '#shared/usecases/learn.ts';

/**
 * Learn agent: remediation.failed → the step's outcome at once;
 * incident.resolved / incident.escalated → outcomes, summary, graph links,
 * recurrence, earned autonomy → learning.recorded. Its metrics feed the
 * dashboard (incidents closed by outcome, time to resolve, action outcomes,
 * tokens and cost).
 */
const logger = createLogger('homeostat-learn');
const metrics = createMetrics('homeostat-learn');
const wiring = lazy(learnWiring);

function recordMetrics(result: LearnResult) {
  const outcomes = result.outcome === 'outcomes_recorded' ? [] : result.outcomes;
  for (const outcome of outcomes) {
    const single = metrics.singleMetric();
    single.addDimension('result', outcome);
    single.addMetric('ActionOutcomes', 'Count', 1);
  }
  if (result.outcome !== 'learned') return;
  const closed = metrics.singleMetric();
  closed.addDimension('outcome', result.data.outcome);
  closed.addMetric('IncidentsClosed', 'Count', 1);
  if (result.data.timeToResolveMs !== null)
    metrics.addMetric('TimeToResolve', 'Milliseconds', result.data.timeToResolveMs);
  metrics.addMetric('IncidentTokens', 'Count', result.tokens.input + result.tokens.output);
  metrics.addMetric('IncidentCostUsd', 'None', result.costUsd);
  if (result.data.recurrence.recurring) metrics.addMetric('RecurringIncidents', 'Count', 1);
  if (result.data.promotions.length > 0)
    metrics.addMetric('AutonomyRecommendations', 'Count', result.data.promotions.length);
}

export const handler = busAgentHandler({
  deps: () => wiring().learnDeps(),
  logger,
  metrics,
  run: async (event: unknown, deps: LearnDeps) => {
    const result = await learnFromIncident(event, deps);
    recordMetrics(result);
    return result;
  },
  message: 'incident learned',
});
