import {
  type CloudWatchClient,
  DescribeAlarmsCommand,
  type Dimension,
  GetMetricDataCommand,
  type MetricAlarm,
  type MetricDataQuery,
} from '@aws-sdk/client-cloudwatch';
import {
  type CloudWatchLogsClient,
  FilterLogEventsCommand,
  ResourceNotFoundException,
} from '@aws-sdk/client-cloudwatch-logs';
import { DescribeServicesCommand, DescribeTaskDefinitionCommand, type ECSClient } from '@aws-sdk/client-ecs';
import type { IncidentBrief } from '../domain/diagnosis.ts';
import { type AnyFinding, type EvidenceTool, redact } from '../domain/evidence.ts';
import { reconnectionLine } from '../domain/pre-analysis.ts';
import type { ServiceRef } from '../domain/signal.ts';

/** Minutes of data before the first signal that the metrics and logs tools read. */
export const evidenceWindowMinutes = 15;

interface MetricSpec {
  namespace: string;
  metricName: string;
  dimensions: Dimension[];
  stat: string;
}

/** What every ECS service publishes (Container Insights for the task count). */
const standardMetrics = (ref: ServiceRef): MetricSpec[] => {
  const dimensions = [
    { Name: 'ClusterName', Value: ref.cluster },
    { Name: 'ServiceName', Value: ref.service },
  ];
  return [
    { namespace: 'AWS/ECS', metricName: 'CPUUtilization', dimensions, stat: 'Average' },
    { namespace: 'AWS/ECS', metricName: 'MemoryUtilization', dimensions, stat: 'Average' },
    { namespace: 'ECS/ContainerInsights', metricName: 'RunningTaskCount', dimensions, stat: 'Average' },
  ];
};

/** The metrics an alarm watches: its own metric, or every metric its math reads. */
function alarmMetrics(alarm: MetricAlarm): MetricSpec[] {
  if (alarm.MetricName && alarm.Namespace)
    return [
      {
        namespace: alarm.Namespace,
        metricName: alarm.MetricName,
        dimensions: alarm.Dimensions ?? [],
        stat: alarm.Statistic ?? alarm.ExtendedStatistic ?? 'Average',
      },
    ];
  return (alarm.Metrics ?? []).flatMap((q) => {
    const stat = q.MetricStat;
    if (!stat?.Metric?.MetricName || !stat.Metric.Namespace) return [];
    return [
      {
        namespace: stat.Metric.Namespace,
        metricName: stat.Metric.MetricName,
        dimensions: stat.Metric.Dimensions ?? [],
        stat: stat.Stat ?? 'Average',
      },
    ];
  });
}

const specKey = (m: MetricSpec) =>
  `${m.namespace}|${m.metricName}|${m.dimensions
    .map((d) => `${d.Name}=${d.Value}`)
    .sort()
    .join(',')}`;

/**
 * CloudWatch metrics around the incident: the service's standard ECS metrics
 * and every metric its alarms watch (found by the registry's alarm-name
 * prefixes), one value per minute for the window before the first signal.
 */
export class CloudWatchMetricsTool implements EvidenceTool {
  readonly name = 'cloudwatch_metrics';

  constructor(
    private readonly client: CloudWatchClient,
    private readonly alarmPrefixesOf: (ref: ServiceRef) => Promise<string[]>,
    private readonly windowMinutes = evidenceWindowMinutes,
  ) {}

  async gather(
    incident: IncidentBrief,
    abortSignal: AbortSignal,
  ): Promise<AnyFinding[] | { missing: string }> {
    const ref = { cluster: incident.cluster, service: incident.service };
    const specs = new Map(standardMetrics(ref).map((m) => [specKey(m), m]));
    for (const prefix of await this.alarmPrefixesOf(ref)) {
      const out = await this.client.send(
        new DescribeAlarmsCommand({ AlarmNamePrefix: prefix, MaxRecords: 100 }),
        {
          abortSignal,
        },
      );
      for (const spec of (out.MetricAlarms ?? []).flatMap(alarmMetrics)) specs.set(specKey(spec), spec);
    }
    const list = [...specs.values()].slice(0, 100);
    const end = Date.parse(incident.openedAt) + 60_000;
    const queries: MetricDataQuery[] = list.map((m, i) => ({
      Id: `m${i}`,
      MetricStat: {
        Metric: { Namespace: m.namespace, MetricName: m.metricName, Dimensions: m.dimensions },
        Period: 60,
        Stat: m.stat,
      },
      ReturnData: true,
    }));
    const out = await this.client.send(
      new GetMetricDataCommand({
        MetricDataQueries: queries,
        StartTime: new Date(end - (this.windowMinutes + 1) * 60_000),
        EndTime: new Date(end),
        ScanBy: 'TimestampAscending',
      }),
      { abortSignal },
    );
    const series: Record<string, number[]> = {};
    for (const result of out.MetricDataResults ?? []) {
      const spec = list[Number((result.Id ?? '').slice(1))];
      const points = (result.Timestamps ?? [])
        .map((t, i) => ({ t: new Date(t).getTime(), v: result.Values?.[i] }))
        .filter((p): p is { t: number; v: number } => typeof p.v === 'number')
        .sort((a, b) => a.t - b.t);
      // Same metric name on two resources: the first (standard, then alarm order) keeps the name.
      if (spec && points.length > 0 && !(spec.metricName in series))
        series[spec.metricName] = points.map((p) => Math.round(p.v * 100) / 100);
    }
    const names = Object.keys(series);
    if (names.length === 0)
      return {
        missing: `no metric data for ${incident.cluster}/${incident.service} in the ${this.windowMinutes} min before the incident`,
      };
    return [
      {
        kind: 'metrics',
        summary: names
          .map((n) => {
            const values = series[n] ?? [];
            return `${n} ${values[0]} → ${values[values.length - 1]} (max ${Math.max(...values)})`;
          })
          .join('; '),
        facts: { series },
      },
    ];
  }
}

/** Lines worth a diagnostician's time first: errors, failures, refusals. */
const errorLike =
  /error|fatal|exception|fail|refused|denied|timed? ?out|killed|panic|invalid|missing|unauthori[sz]ed|forbidden|unavailable|out of memory|cannot|could not|unable/i;

/**
 * Recent error lines from the service's log group (found in the running task
 * definition's awslogs configuration): bounded, deduplicated, secrets
 * redacted, and marked untrusted — log text is data, never instructions.
 */
export class CloudWatchLogsTool implements EvidenceTool {
  readonly name = 'logs';

  constructor(
    private readonly logs: CloudWatchLogsClient,
    private readonly ecs: ECSClient,
    private readonly options: { windowMinutes?: number; maxLines?: number; scanEvents?: number } = {},
  ) {}

  async gather(
    incident: IncidentBrief,
    abortSignal: AbortSignal,
  ): Promise<AnyFinding[] | { missing: string }> {
    const logGroup = await this.logGroupOf(incident, abortSignal);
    if (!logGroup)
      return { missing: `${incident.cluster}/${incident.service} sends no logs to CloudWatch Logs` };
    const windowMinutes = this.options.windowMinutes ?? evidenceWindowMinutes;
    const opened = Date.parse(incident.openedAt);
    let events: { message?: string | undefined; timestamp?: number | undefined }[] = [];
    try {
      const out = await this.logs.send(
        new FilterLogEventsCommand({
          logGroupName: logGroup,
          startTime: opened - windowMinutes * 60_000,
          endTime: opened + 5 * 60_000,
          limit: this.options.scanEvents ?? 1_000,
        }),
        { abortSignal },
      );
      events = out.events ?? [];
    } catch (error) {
      if (error instanceof ResourceNotFoundException)
        return { missing: `log group ${logGroup} does not exist` };
      throw error;
    }
    if (events.length === 0) return { missing: `no log events in ${logGroup} around the incident` };
    const latestFirst = [...events].sort((a, b) => (b.timestamp ?? 0) - (a.timestamp ?? 0));
    // Errors, and the reconnections that may follow them: a dependency that came back is evidence too.
    const errors = latestFirst.filter(
      (e) => errorLike.test(e.message ?? '') || reconnectionLine.test(e.message ?? ''),
    );
    const chosen = errors.length > 0 ? errors : latestFirst;
    const lines = [...new Set(chosen.map((e) => redact((e.message ?? '').trim())).filter(Boolean))].slice(
      0,
      this.options.maxLines ?? 50,
    );
    return [
      {
        kind: 'logs',
        summary: `${errors.length} error lines of ${events.length} events in ${logGroup}; latest: ${lines[0] ?? ''}`,
        facts: { logGroup, lines },
        untrusted: true,
      },
    ];
  }

  private async logGroupOf(incident: IncidentBrief, abortSignal: AbortSignal): Promise<string | null> {
    const out = await this.ecs.send(
      new DescribeServicesCommand({ cluster: incident.cluster, services: [incident.service] }),
      { abortSignal },
    );
    const taskDefinition = out.services?.[0]?.taskDefinition;
    if (!taskDefinition) return null;
    const td = await this.ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition }), { abortSignal });
    for (const container of td.taskDefinition?.containerDefinitions ?? []) {
      const config = container.logConfiguration;
      const group = config?.logDriver === 'awslogs' ? config.options?.['awslogs-group'] : undefined;
      if (group) return group;
    }
    return null;
  }
}
