import type { AlarmStateChange } from '../events/cloudwatch-alarm.ts';

export interface ServiceRef {
  cluster: string;
  service: string;
}

export interface ServiceSnapshot {
  status: string;
  desiredCount: number;
  runningCount: number;
  pendingCount: number;
  taskDefinition: string | null;
}

/** A normalised observation of something that may concern a watched ECS service. */
export interface Signal {
  /** The id of the source event: redelivery of the same event maps to the same signal. */
  id: string;
  kind: 'alarm';
  name: string;
  state: 'OK' | 'ALARM' | 'INSUFFICIENT_DATA';
  previousState: string | null;
  reason: string;
  occurredAt: Date;
  service: ServiceRef | null;
  /** The untouched source event, kept for later diagnosis and audits. */
  raw: unknown;
}

/**
 * The (cluster, service) an alarm is about, from the first metric whose
 * dimensions name both. Composite and pure-expression alarms have none.
 */
export function serviceFromAlarm(alarm: AlarmStateChange): ServiceRef | null {
  for (const metric of alarm.detail.configuration.metrics) {
    const dimensions = metric.metricStat?.metric.dimensions;
    const cluster = dimensions?.ClusterName;
    const service = dimensions?.ServiceName;
    if (cluster && service) return { cluster, service };
  }
  return null;
}

export function signalFromAlarm(alarm: AlarmStateChange): Signal {
  return {
    id: alarm.id,
    kind: 'alarm',
    name: alarm.detail.alarmName,
    state: alarm.detail.state.value,
    previousState: alarm.detail.previousState?.value ?? null,
    reason: alarm.detail.state.reason,
    occurredAt: new Date(alarm.time),
    service: serviceFromAlarm(alarm),
    raw: alarm,
  };
}
