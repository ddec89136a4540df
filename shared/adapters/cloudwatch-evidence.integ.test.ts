import { CloudWatchClient, PutMetricAlarmCommand, PutMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import {
  CloudWatchLogsClient,
  CreateLogGroupCommand,
  CreateLogStreamCommand,
  PutLogEventsCommand,
} from '@aws-sdk/client-cloudwatch-logs';
import {
  CreateClusterCommand,
  CreateServiceCommand,
  ECSClient,
  RegisterTaskDefinitionCommand,
} from '@aws-sdk/client-ecs';
import { describe, expect, it } from 'vitest';
import { emulatorClientConfig, uniqueName } from '../../localstack/testing.ts';
import { investigate } from '../domain/evidence.ts';
import { createCloudWatchMetricsClient } from './cloudwatch.ts';
import { CloudWatchLogsTool, CloudWatchMetricsTool } from './cloudwatch-evidence.ts';

/** The metrics and logs tools against the emulator's CloudWatch, Logs and ECS. */
describe('CloudWatch evidence', () => {
  const config = emulatorClientConfig();
  const cw = new CloudWatchClient(config);
  const logs = new CloudWatchLogsClient(config);
  const ecs = new ECSClient(config);
  const opened = new Date();
  const brief = (cluster: string) => ({
    incidentId: 'inc-1',
    cluster,
    service: 'api',
    title: 't',
    fingerprint: 'fp',
    openedAt: opened.toISOString(),
  });
  const minutesAgo = (n: number) => new Date(opened.getTime() - n * 60_000);

  async function serviceLoggingTo(cluster: string, logGroup: string | null) {
    await ecs.send(new CreateClusterCommand({ clusterName: cluster }));
    const td = await ecs.send(
      new RegisterTaskDefinitionCommand({
        family: uniqueName('api'),
        containerDefinitions: [
          {
            name: 'api',
            image: 'api:1',
            memory: 512,
            essential: true,
            ...(logGroup
              ? { logConfiguration: { logDriver: 'awslogs', options: { 'awslogs-group': logGroup } } }
              : {}),
          },
        ],
      }),
    );
    await ecs.send(
      new CreateServiceCommand({
        cluster,
        serviceName: 'api',
        taskDefinition: td.taskDefinition?.taskDefinitionArn,
        desiredCount: 1,
      }),
    );
  }

  it('reads the standard ECS metrics and every metric the service’s alarms watch, oldest first', async () => {
    const cluster = uniqueName('metrics');
    const ecsDims = [
      { Name: 'ClusterName', Value: cluster },
      { Name: 'ServiceName', Value: 'api' },
    ];
    const alb = [{ Name: 'LoadBalancer', Value: `app/${cluster}/1` }];
    await cw.send(
      new PutMetricDataCommand({
        Namespace: 'AWS/ECS',
        MetricData: [40, 60, 97].map((v, i) => ({
          MetricName: 'CPUUtilization',
          Dimensions: ecsDims,
          Value: v,
          Timestamp: minutesAgo(2 - i),
        })),
      }),
    );
    await cw.send(
      new PutMetricDataCommand({
        Namespace: 'AWS/ApplicationELB',
        MetricData: [0.2, 1.4].map((v, i) => ({
          MetricName: 'TargetResponseTime',
          Dimensions: alb,
          Value: v,
          Timestamp: minutesAgo(1 - i),
        })),
      }),
    );
    const prefix = `homeostat-${cluster}-api-`;
    await cw.send(
      new PutMetricAlarmCommand({
        AlarmName: `${prefix}latency`,
        Namespace: 'AWS/ApplicationELB',
        MetricName: 'TargetResponseTime',
        Dimensions: alb,
        Statistic: 'Average',
        Period: 60,
        EvaluationPeriods: 1,
        Threshold: 1,
        ComparisonOperator: 'GreaterThanThreshold',
      }),
    );
    // An alarm of another service is not read.
    await cw.send(
      new PutMetricAlarmCommand({
        AlarmName: `homeostat-${cluster}-other-latency`,
        Namespace: 'AWS/ApplicationELB',
        MetricName: 'HTTPCode_Target_5XX_Count',
        Dimensions: alb,
        Statistic: 'Sum',
        Period: 60,
        EvaluationPeriods: 1,
        Threshold: 1,
        ComparisonOperator: 'GreaterThanThreshold',
      }),
    );
    const tool = new CloudWatchMetricsTool(createCloudWatchMetricsClient(config), async () => [prefix]);
    const inv = await investigate(brief(cluster), [tool]);
    expect(inv.gaps).toEqual([]);
    expect(inv.evidence[0]?.facts).toEqual({
      series: { CPUUtilization: [40, 60, 97], TargetResponseTime: [0.2, 1.4] },
    });
    expect(inv.evidence[0]?.summary).toBe(
      'CPUUtilization 40 → 97 (max 97); TargetResponseTime 0.2 → 1.4 (max 1.4)',
    );
  });

  it('names metrics with no data as a gap', async () => {
    const tool = new CloudWatchMetricsTool(createCloudWatchMetricsClient(config), async () => []);
    const cluster = uniqueName('quiet');
    const inv = await investigate(brief(cluster), [tool]);
    expect(inv.gaps).toEqual([
      {
        tool: 'cloudwatch_metrics',
        reason: `no metric data for ${cluster}/api in the 15 min before the incident`,
      },
    ]);
  });

  it('reads error lines from the service’s log group, redacted, latest first, marked untrusted', async () => {
    const cluster = uniqueName('logs');
    const group = `/ecs/${cluster}/api`;
    await serviceLoggingTo(cluster, group);
    await logs.send(new CreateLogGroupCommand({ logGroupName: group }));
    await logs.send(new CreateLogStreamCommand({ logGroupName: group, logStreamName: 'api/1' }));
    await logs.send(
      new PutLogEventsCommand({
        logGroupName: group,
        logStreamName: 'api/1',
        logEvents: [
          { timestamp: minutesAgo(3).getTime(), message: 'GET /health 200' },
          {
            timestamp: minutesAgo(2).getTime(),
            message: 'Error: connect ECONNREFUSED db:5432 password=hunter2',
          },
          {
            timestamp: minutesAgo(1).getTime(),
            message: 'Error: connect ECONNREFUSED db:5432 password=hunter2',
          },
          { timestamp: minutesAgo(1).getTime(), message: 'FATAL: out of memory' },
        ],
      }),
    );
    const inv = await investigate(brief(cluster), [new CloudWatchLogsTool(logs, ecs)]);
    expect(inv.gaps).toEqual([]);
    expect(inv.evidence[0]).toMatchObject({
      kind: 'logs',
      untrusted: true,
      facts: { logGroup: group },
    });
    const lines = (inv.evidence[0]?.facts as { lines: string[] } | undefined)?.lines ?? [];
    expect(lines).toHaveLength(2);
    expect(lines).toContain('Error: connect ECONNREFUSED db:5432 password=[redacted]');
    expect(lines.join('\n')).not.toMatch(/hunter2|GET \/health/);
  });

  it('names a service with no log configuration, and a log group that does not exist, as gaps', async () => {
    const silent = uniqueName('silent');
    await serviceLoggingTo(silent, null);
    const missing = uniqueName('missing');
    await serviceLoggingTo(missing, `/ecs/${missing}/api`);
    const tool = new CloudWatchLogsTool(logs, ecs);
    expect((await investigate(brief(silent), [tool])).gaps).toEqual([
      { tool: 'logs', reason: `${silent}/api sends no logs to CloudWatch Logs` },
    ]);
    expect((await investigate(brief(missing), [tool])).gaps).toEqual([
      { tool: 'logs', reason: `log group /ecs/${missing}/api does not exist` },
    ]);
  });
});
