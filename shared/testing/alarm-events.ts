/**
 * CloudWatch "Alarm State Change" events in the shapes the AWS documentation
 * shows (metric, metric-math and composite alarms), for tests and the demo.
 */
import { randomUUID } from 'node:crypto';

export interface AlarmEventOptions {
  id?: string;
  alarmName?: string;
  state?: 'OK' | 'ALARM' | 'INSUFFICIENT_DATA';
  previousState?: 'OK' | 'ALARM' | 'INSUFFICIENT_DATA';
  cluster?: string;
  service?: string;
  metricName?: string;
  time?: Date;
  account?: string;
  region?: string;
}

/** A metric alarm on an ECS service metric (dimensions ClusterName + ServiceName). */
export function ecsMetricAlarmEvent(options: AlarmEventOptions = {}) {
  const time = options.time ?? new Date();
  const account = options.account ?? '123456789012';
  const region = options.region ?? 'us-east-1';
  const alarmName = options.alarmName ?? 'api-memory-high';
  const dimensions: Record<string, string> = {};
  if (options.cluster) dimensions.ClusterName = options.cluster;
  if (options.service) dimensions.ServiceName = options.service;
  return {
    version: '0',
    id: options.id ?? randomUUID(),
    'detail-type': 'CloudWatch Alarm State Change',
    source: 'aws.cloudwatch',
    account,
    time: time.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    region,
    resources: [`arn:aws:cloudwatch:${region}:${account}:alarm:${alarmName}`],
    detail: {
      alarmName,
      configuration: {
        description: 'Memory utilization above 90% for 3 minutes',
        metrics: [
          {
            id: '30b6c6b2-a864-43a2-4877-c09a1afc3b87',
            metricStat: {
              metric: { dimensions, name: options.metricName ?? 'MemoryUtilization', namespace: 'AWS/ECS' },
              period: 60,
              stat: 'Average',
            },
            returnData: true,
          },
        ],
      },
      previousState: {
        reason: 'Threshold Crossed: 3 datapoints were not greater than the threshold (90.0).',
        timestamp: '2019-10-02T17:04:40.985+0000',
        value: options.previousState ?? 'OK',
      },
      state: {
        reason:
          'Threshold Crossed: 3 out of the last 3 datapoints [99.5 (02/10/19 17:03:00), 97.1 (02/10/19 17:02:00)] were greater than the threshold (90.0).',
        reasonData: '{"version":"1.0","queryDate":"2019-10-02T17:04:40.985+0000"}',
        timestamp: '2019-10-02T17:04:40.989+0000',
        value: options.state ?? 'ALARM',
      },
    },
  };
}

/** A metric-math alarm: an expression over two ECS metrics (AWS docs shape). */
export function metricMathAlarmEvent(options: AlarmEventOptions = {}) {
  const base = ecsMetricAlarmEvent({ alarmName: 'api-error-rate', ...options });
  const dims = { ClusterName: options.cluster ?? 'shop', ServiceName: options.service ?? 'api' };
  base.detail.configuration.metrics = [
    { id: 'e1', expression: 'm1/m2*100', label: 'error rate', returnData: true },
    {
      id: 'm1',
      metricStat: {
        metric: { dimensions: dims, name: 'HTTPCode_Target_5XX_Count', namespace: 'AWS/ECS' },
        period: 60,
        stat: 'Sum',
      },
      returnData: false,
    },
    {
      id: 'm2',
      metricStat: {
        metric: { dimensions: dims, name: 'RequestCount', namespace: 'AWS/ECS' },
        period: 60,
        stat: 'Sum',
      },
      returnData: false,
    },
  ] as unknown as typeof base.detail.configuration.metrics;
  return base;
}

/** A composite alarm: a rule over other alarms, no metrics at all (AWS docs shape). */
export function compositeAlarmEvent(options: AlarmEventOptions = {}) {
  const base = ecsMetricAlarmEvent({ alarmName: 'ServiceAggregatedAlarm', ...options });
  const { metrics: _metrics, ...rest } = base.detail.configuration;
  return {
    ...base,
    detail: {
      ...base.detail,
      configuration: {
        ...rest,
        alarmRule: 'ALARM(CPUUtilizationTooHigh) OR ALARM(DiskReadOpsTooHigh)',
        actionsSuppressor: 'ServiceMaintenanceAlarm',
        actionsSuppressorWaitPeriod: 120,
        actionsSuppressorExtensionPeriod: 180,
      },
    },
  };
}
