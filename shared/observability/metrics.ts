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
