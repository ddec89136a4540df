import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Counters } from '../domain/ports.ts';

/** CloudWatch metrics in EMF, namespace Homeostat; flushed by the handler's logMetrics middleware. */
export function createMetrics(serviceName: string): Metrics {
  return new Metrics({ namespace: 'Homeostat', serviceName });
}

/** Counters on Powertools Metrics: one single-metric line per dimension set. */
export function metricsCounters(metrics: Metrics): Counters {
  return {
    increment(name, dimensions = {}) {
      if (Object.keys(dimensions).length === 0) {
        metrics.addMetric(name, MetricUnit.Count, 1);
        return;
      }
      const single = metrics.singleMetric();
      for (const [key, value] of Object.entries(dimensions)) single.addDimension(key, value);
      single.addMetric(name, MetricUnit.Count, 1);
    },
  };
}

/**
 * The diagnosis agent's metrics (namespace Homeostat, dimension service homeostat-diagnose), one
 * name per concept so dashboards and alarms cannot drift from the code.
 * - `answeredBy` (Count, 1 per diagnosis): dimensions `AnsweredBy` = `bedrock` with `Model` = the
 *   model id, or `offline` with `Reason` = a FallbackCause or `configured` (no model configured);
 * - `fallbacks` (Count): diagnoses where the offline rules stood in for a configured model;
 * - `inputTokens`, `outputTokens` (Count): model tokens spent on the diagnosis.
 */
export const diagnosisMetrics = {
  answeredBy: 'DiagnosisAnsweredBy',
  fallbacks: 'DiagnosisFallbacks',
  inputTokens: 'DiagnosisInputTokens',
  outputTokens: 'DiagnosisOutputTokens',
} as const;
