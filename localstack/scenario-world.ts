/**
 * Plays the world a scenario describes, since the emulator runs no containers
 * and emits no AWS events: seeds ECS (cluster, revisions, service, the
 * deployment), writes telemetry where the agents read it (CloudWatch metrics
 * and the alarms that watch them, the service's log group), registers the
 * service as watched, and expands the scenario's symptoms into the AWS-shaped
 * events CloudWatch and ECS would put on the bus.
 */
import {
  CloudWatchClient,
  type Dimension,
  PutMetricAlarmCommand,
  PutMetricDataCommand,
} from '@aws-sdk/client-cloudwatch';
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
  UpdateServiceCommand,
} from '@aws-sdk/client-ecs';
import { ecsMetricAlarmEvent } from '../shared/testing/alarm-events.ts';
import { deploymentEvent, serviceActionEvent, taskStoppedEvent } from '../shared/testing/ecs-events.ts';
import type { localClientConfig } from './deploy-local.ts';
import type { Scenario, ScenarioSignal } from './scenario-format.ts';

/** Names in the emulator: unique per run and scenario, so scenarios never see each other. */
export interface WorldNames {
  cluster: string;
  service: string;
  family: string;
  logGroup: string;
  /** Alarm names start with it; the registry resolves alarms by it. */
  alarmPrefix: string;
}

export function worldNames(scenario: Scenario, suffix: string): WorldNames {
  const cluster = `${scenario.service.cluster}-${suffix}`;
  const service = scenario.service.service;
  return {
    cluster,
    service,
    family: `${scenario.service.taskDefinitions[0]?.family ?? service}-${suffix}`,
    logGroup: `/ecs/${cluster}/${service}`,
    alarmPrefix: `homeostat-${cluster}-${service}-`,
  };
}

/** A deployment this recent is replayed as a real UpdateService; older ones as the service's starting revision. */
const recentDeploymentMinutes = 60;

const albMetrics = new Set([
  'TargetResponseTime',
  'HTTPCode_Target_5XX_Count',
  'HTTPCode_ELB_5XX_Count',
  'HTTPCode_Target_4XX_Count',
  'UnHealthyHostCount',
  'HealthyHostCount',
  'RequestCount',
]);
const containerInsights = new Set(['RunningTaskCount', 'PendingTaskCount', 'DesiredTaskCount']);

/** Where CloudWatch keeps a metric of this name for the scenario's service. */
export function metricHome(name: string, names: WorldNames): { namespace: string; dimensions: Dimension[] } {
  const ecs = [
    { Name: 'ClusterName', Value: names.cluster },
    { Name: 'ServiceName', Value: names.service },
  ];
  if (name === 'CPUUtilization' || name === 'MemoryUtilization')
    return { namespace: 'AWS/ECS', dimensions: ecs };
  if (containerInsights.has(name)) return { namespace: 'ECS/ContainerInsights', dimensions: ecs };
  if (albMetrics.has(name))
    return {
      namespace: 'AWS/ApplicationELB',
      dimensions: [
        { Name: 'LoadBalancer', Value: `app/${names.cluster}/0` },
        { Name: 'TargetGroup', Value: `targetgroup/${names.service}/0` },
      ],
    };
  if (name.startsWith('Approximate') || name.startsWith('NumberOfMessages'))
    return { namespace: 'AWS/SQS', dimensions: [{ Name: 'QueueName', Value: `${names.service}-queue` }] };
  return { namespace: 'App/Metrics', dimensions: ecs };
}

/** Metrics the metrics tool reads for every service, alarm or not. */
const standardMetrics = new Set(['CPUUtilization', 'MemoryUtilization', 'RunningTaskCount']);

const eventTypeOf = (eventName: string): 'INFO' | 'WARN' | 'ERROR' =>
  /FAILED$/.test(eventName) ? 'ERROR' : /FAILURE|IMPAIRED|THROTTLED/.test(eventName) ? 'WARN' : 'INFO';

const placement =
  /unable to place|no container instance met|insufficient (memory|cpu)|capacity is unavailable/i;
const steady = /reached a steady state/i;

type AwsEvent = { source: string; 'detail-type': string; detail: unknown; time: string; resources: string[] };

/**
 * The events CloudWatch and ECS would have published, in order, all at the
 * first signal's time `t0` (plus each signal's offset): the stopped tasks, the
 * service events that have an EventBridge counterpart (placement failures,
 * steady state; the rest are informational and not played), then the signals.
 */
export function scenarioEvents(scenario: Scenario, names: WorldNames, t0: Date): AwsEvent[] {
  const at = (offsetSeconds = 0, order = 0) => new Date(t0.getTime() + offsetSeconds * 1000 + order);
  const { cluster, service } = names;
  const events: AwsEvent[] = [];
  scenario.telemetry.stoppedTasks.forEach((task, i) => {
    events.push(
      taskStoppedEvent({
        cluster,
        service,
        time: at(0, i),
        stopCode: task.stopCode,
        stoppedReason: task.stoppedReason,
        exitCode: task.exitCode,
        // The scenario's reason says it all; the builder's default container reason is an OOM.
        containerReason: '',
      }),
    );
  });
  for (const message of scenario.telemetry.serviceEvents) {
    if (placement.test(message))
      events.push(
        serviceActionEvent({
          cluster,
          service,
          time: at(),
          eventName: 'SERVICE_TASK_PLACEMENT_FAILURE',
          eventType: 'WARN',
          reason: message,
        }),
      );
    else if (steady.test(message))
      events.push(
        serviceActionEvent({
          cluster,
          service,
          time: at(),
          eventName: 'SERVICE_STEADY_STATE',
          eventType: 'INFO',
          reason: message,
        }),
      );
  }
  for (const signal of scenario.signals) events.push(signalEvent(signal, names, at(signal.offsetSeconds)));
  return events;
}

function signalEvent(signal: ScenarioSignal, names: WorldNames, time: Date): AwsEvent {
  const { cluster, service } = names;
  switch (signal.detailType) {
    case 'CloudWatch Alarm State Change':
      return ecsMetricAlarmEvent({
        cluster,
        service,
        time,
        alarmName: `${names.alarmPrefix}${signal.alarmName}`,
        state: signal.state,
        previousState: signal.state === 'OK' ? 'ALARM' : 'OK',
        metricName: signal.metricName,
      });
    case 'ECS Task State Change':
      return taskStoppedEvent({
        cluster,
        service,
        time,
        lastStatus: signal.lastStatus,
        stopCode: signal.stopCode,
        exitCode: signal.exitCode ?? null,
        stoppedReason: signal.stoppedReason,
        containerReason: '',
      });
    case 'ECS Deployment State Change':
      return deploymentEvent({
        cluster,
        service,
        time,
        eventName: signal.eventName,
        eventType: signal.eventType ?? eventTypeOf(signal.eventName),
        reason: signal.reason ?? '',
      });
    case 'ECS Service Action':
      return serviceActionEvent({
        cluster,
        service,
        time,
        eventName: signal.eventName,
        eventType: signal.eventType ?? eventTypeOf(signal.eventName),
        reason: signal.reason ?? '',
        capacityProvider: signal.capacityProvider,
      });
  }
}

type ClientConfig = ReturnType<typeof localClientConfig>;

/** ECS: the cluster, every revision (oldest first, logging to the service's group) and the service. */
export async function seedEcs(
  config: ClientConfig,
  scenario: Scenario,
  names: WorldNames,
): Promise<string[]> {
  const ecs = new ECSClient(config);
  try {
    await ecs.send(new CreateClusterCommand({ clusterName: names.cluster }));
    const arns: string[] = [];
    for (const td of scenario.service.taskDefinitions) {
      const memory = td.memory ?? 512;
      const out = await ecs.send(
        new RegisterTaskDefinitionCommand({
          family: names.family,
          requiresCompatibilities: ['FARGATE'],
          networkMode: 'awsvpc',
          cpu: String(td.cpu ?? 256),
          memory: String(memory),
          volumes: (td.mounts ?? []).map((m) =>
            m.efs
              ? { name: m.volume, efsVolumeConfiguration: { fileSystemId: 'fs-00000000' } }
              : { name: m.volume },
          ),
          containerDefinitions: [
            {
              name: names.service,
              image: td.image,
              essential: true,
              memory,
              command: td.command,
              environment: Object.entries(td.environment ?? {}).map(([name, value]) => ({ name, value })),
              mountPoints: (td.mounts ?? []).map((m) => ({
                sourceVolume: m.volume,
                containerPath: m.containerPath,
              })),
              logConfiguration: {
                logDriver: 'awslogs',
                options: {
                  'awslogs-group': names.logGroup,
                  'awslogs-region': config.region,
                  'awslogs-stream-prefix': names.service,
                },
              },
            },
          ],
        }),
      );
      arns.push(out.taskDefinition?.taskDefinitionArn ?? '');
    }
    const latest = Math.min(...scenario.telemetry.deployments.map((d) => d.startedMinutesAgo));
    const deployedRecently = arns.length >= 2 && latest <= recentDeploymentMinutes;
    await ecs.send(
      new CreateServiceCommand({
        cluster: names.cluster,
        serviceName: names.service,
        taskDefinition: deployedRecently ? arns[arns.length - 2] : arns[arns.length - 1],
        desiredCount: scenario.service.desiredCount,
        launchType: 'FARGATE',
      }),
    );
    if (deployedRecently)
      await ecs.send(
        new UpdateServiceCommand({
          cluster: names.cluster,
          service: names.service,
          taskDefinition: arns[arns.length - 1],
        }),
      );
    return arns;
  } finally {
    ecs.destroy();
  }
}

/**
 * CloudWatch: each metric one value per minute ending at `t0`; an alarm on
 * every metric the standard set does not cover (so the metrics tool finds it,
 * as it finds a user's alarms) and on every alarm signal's metric.
 */
export async function writeMetrics(config: ClientConfig, scenario: Scenario, names: WorldNames, t0: Date) {
  const cw = new CloudWatchClient(config);
  try {
    for (const [name, values] of Object.entries(scenario.telemetry.metrics)) {
      const home = metricHome(name, names);
      for (let i = 0; i < values.length; i += 20) {
        await cw.send(
          new PutMetricDataCommand({
            Namespace: home.namespace,
            MetricData: values.slice(i, i + 20).map((value, j) => ({
              MetricName: name,
              Dimensions: home.dimensions,
              Value: value,
              Timestamp: new Date(t0.getTime() - (values.length - 1 - (i + j)) * 60_000),
            })),
          }),
        );
      }
    }
    const alarms = new Map<string, string>();
    for (const name of Object.keys(scenario.telemetry.metrics))
      if (!standardMetrics.has(name)) alarms.set(`${names.alarmPrefix}${name}-watch`, name);
    for (const signal of scenario.signals)
      if (signal.detailType === 'CloudWatch Alarm State Change')
        alarms.set(`${names.alarmPrefix}${signal.alarmName}`, signal.metricName ?? 'MemoryUtilization');
    for (const [alarmName, metricName] of alarms) {
      const home = metricHome(metricName, names);
      await cw.send(
        new PutMetricAlarmCommand({
          AlarmName: alarmName,
          Namespace: home.namespace,
          MetricName: metricName,
          Dimensions: home.dimensions,
          Statistic: 'Average',
          Period: 60,
          EvaluationPeriods: 3,
          Threshold: 0,
          ComparisonOperator: 'GreaterThanThreshold',
        }),
      );
    }
  } finally {
    cw.destroy();
  }
}

/** CloudWatch Logs: the service's group with the scenario's lines, a second apart, ending just before `t0`. */
export async function writeLogs(config: ClientConfig, scenario: Scenario, names: WorldNames, t0: Date) {
  const lines = scenario.telemetry.logs;
  if (lines.length === 0) return;
  const logs = new CloudWatchLogsClient(config);
  try {
    await logs.send(new CreateLogGroupCommand({ logGroupName: names.logGroup }));
    const stream = `${names.service}/${names.service}/0`;
    await logs.send(new CreateLogStreamCommand({ logGroupName: names.logGroup, logStreamName: stream }));
    await logs.send(
      new PutLogEventsCommand({
        logGroupName: names.logGroup,
        logStreamName: stream,
        logEvents: lines.map((message, i) => ({
          timestamp: t0.getTime() - (lines.length - i) * 1000,
          message,
        })),
      }),
    );
  } finally {
    logs.destroy();
  }
}
