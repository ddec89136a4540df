import { CustomResource, Duration, Tags, Token } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as ecs from 'aws-cdk-lib/aws-ecs';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import { parseServiceRegistration } from '../../shared/config/service-registration.ts';
import { managedTag } from './remediation-agents.ts';
import { registryParameterName, type ServiceRegistry } from './service-registry.ts';

/** How the registry knows a watched service (stored by the migrator on deploy). */
export interface WatchedServiceRegistration {
  readonly cluster: string;
  readonly service: string;
  readonly alarmPrefixes: string[];
  readonly minTasks: number;
  readonly maxTasks: number;
  /** The declared maintenance tasks (run_task checks against them; the migrator registers them). */
  readonly maintenanceTasks?: string[];
}

/** Where a WatchedService registers: the Homeostat of this app, or the one published in SSM. */
export interface RegistrationTarget {
  /** A Homeostat (construct or stack) of this app. @default the registry published under `registryParameterName` */
  readonly homeostat?: { readonly registry: ServiceRegistry };
  /**
   * The SSM parameter holding a Homeostat's registry service token, for a
   * WatchedService in another app: `/homeostat/<bus name>/service-registry`.
   * @default '/homeostat/homeostat/service-registry' (the default bus name)
   */
  readonly registryParameterName?: string;
}

/** A watched service declared by name (context `homeostat:watchedServices`, or a service of another app). */
export interface WatchedServiceProps extends RegistrationTarget {
  /** ECS cluster name. */
  readonly cluster: string;
  /** ECS service name. */
  readonly service: string;
  /** The service's ALB target group, for the 5xx, latency and unhealthy-host alarms. @default no ALB alarms */
  readonly targetGroup?: { readonly targetGroupFullName: string; readonly loadBalancerFullName: string };
  /** Existing alarms of the service, by name prefix. @default none */
  readonly alarmNamePrefixes?: string[];
  /** Existing alarms of the service, by ARN. @default none */
  readonly alarmArns?: string[];
  /** Create the standard alarms. @default true */
  readonly standardAlarms?: boolean;
  /** @default 1 */
  readonly minTasks?: number;
  /** @default 10 */
  readonly maxTasks?: number;
  /**
   * One-off maintenance tasks `run_task` may start in the service's cluster: a
   * task-definition `family` (its latest ACTIVE revision), `family:revision`,
   * or a task-definition ARN. Registered for the policy, and the only task
   * definitions the act agent may run. @default none (run_task is refused)
   */
  readonly maintenanceTasks?: string[];
  /**
   * The task and execution roles of the service's task definitions and of its
   * maintenance tasks (ARNs, or role names in this account): the only roles
   * the act agent may pass to ECS (increase_memory registers a revision with
   * them, run_task starts a maintenance task with them), verify to redeploy
   * a snapshot revision, and chaos to register a bad_deployment revision.
   * @default none (actions that pass a role are refused by IAM)
   */
  readonly taskRoles?: string[];
  /** Thresholds of the standard alarms. */
  readonly thresholds?: {
    /** @default 85 (%) */ readonly cpuPercent?: number;
    /** @default 90 (%) */ readonly memoryPercent?: number;
    /** @default 5 (% of requests) */ readonly target5xxPercent?: number;
    /** @default Duration.seconds(2) */ readonly p99ResponseTime?: Duration;
  };
}

/** Marks the WatchedServices Homeostat creates from context: only their roles and tasks reach the agents' IAM. */
export const declaredInContext = Symbol('homeostat:declaredInContext');
type ContextDeclared = { readonly [declaredInContext]?: true };

/** A watched ECS service construct of your app: tagged homeostat:managed=true by the WatchedService. */
export interface WatchedEcsServiceProps extends Omit<WatchedServiceProps, 'cluster' | 'service'> {
  /** The service (FargateService, Ec2Service, or an imported one — tags reach only services defined in the app). */
  readonly service: ecs.IBaseService;
}

/**
 * An ECS service Homeostat watches: the standard alarms (CPU, memory, running
 * below desired, target 5xx rate, p99 response time, unhealthy hosts) tagged
 * `homeostat:cluster` / `homeostat:service`, and the service's registration: a
 * Custom::HomeostatWatchedService resource whose create and update register it
 * with Homeostat (the columns a deploy owns) and whose delete unregisters it, so
 * the service is watched exactly as long as this construct is deployed. Given an
 * `ecs.IBaseService`, it also tags the service homeostat:managed=true, the tag
 * Homeostat's IAM requires before it changes a service. Use it in any stack of
 * any app of the account and region where Homeostat is deployed.
 */
export class WatchedService extends Construct {
  readonly alarms: cloudwatch.Alarm[] = [];
  readonly registration: WatchedServiceRegistration;
  /** The Custom::HomeostatWatchedService resource. */
  readonly registrationResource: CustomResource;

  constructor(scope: Construct, id: string, given: WatchedServiceProps | WatchedEcsServiceProps) {
    super(scope, id);
    const props: WatchedServiceProps =
      typeof given.service === 'string'
        ? (given as WatchedServiceProps)
        : { ...given, cluster: given.service.cluster.clusterName, service: given.service.serviceName };
    if (typeof given.service !== 'string') Tags.of(given.service).add(managedTag.key, managedTag.value);
    const { cluster, service } = props;
    if (
      (props.taskRoles?.length || props.maintenanceTasks?.length) &&
      !(given as ContextDeclared)[declaredInContext]
    )
      throw new Error(
        `WatchedService ${this.node.path}: taskRoles and maintenanceTasks are granted at synth from context homeostat:watchedServices only (the act agent's IAM lists them); declare the service there, or leave them out — Homeostat then changes it only through UpdateService (restart, scale, roll back)`,
      );
    const prefix = `homeostat-${cluster}-${service}-`;
    const t = props.thresholds ?? {};
    const ecsDims = { ClusterName: cluster, ServiceName: service };
    const minute = Duration.minutes(1);
    const alarm = (
      name: string,
      description: string,
      metric: cloudwatch.IMetric,
      threshold: number,
      periods = 3,
    ) => {
      const created = new cloudwatch.Alarm(this, name, {
        alarmName: `${prefix}${name}`,
        alarmDescription: `${description} (${cluster}/${service}) — watched by Homeostat`,
        metric,
        threshold,
        evaluationPeriods: periods,
        datapointsToAlarm: periods,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      Tags.of(created).add('homeostat:cluster', cluster);
      Tags.of(created).add('homeostat:service', service);
      this.alarms.push(created);
    };

    if (props.standardAlarms !== false) {
      const ecs = (metricName: string) =>
        new cloudwatch.Metric({
          namespace: 'AWS/ECS',
          metricName,
          dimensionsMap: ecsDims,
          period: minute,
          statistic: 'Average',
        });
      alarm('cpu-high', 'CPU above threshold', ecs('CPUUtilization'), t.cpuPercent ?? 85);
      alarm('memory-high', 'Memory above threshold', ecs('MemoryUtilization'), t.memoryPercent ?? 90);
      const insights = (metricName: string) =>
        new cloudwatch.Metric({
          namespace: 'ECS/ContainerInsights',
          metricName,
          dimensionsMap: ecsDims,
          period: minute,
          statistic: 'Average',
        });
      alarm(
        'running-below-desired',
        'Fewer running tasks than desired (needs Container Insights)',
        new cloudwatch.MathExpression({
          expression: 'desired - running',
          usingMetrics: { desired: insights('DesiredTaskCount'), running: insights('RunningTaskCount') },
          period: minute,
          label: 'missing tasks',
        }),
        0,
        5,
      );
      if (props.targetGroup) {
        const tgDims = {
          TargetGroup: props.targetGroup.targetGroupFullName,
          LoadBalancer: props.targetGroup.loadBalancerFullName,
        };
        const alb = (metricName: string, statistic: string) =>
          new cloudwatch.Metric({
            namespace: 'AWS/ApplicationELB',
            metricName,
            dimensionsMap: tgDims,
            period: minute,
            statistic,
          });
        alarm(
          'target-5xx-rate',
          'Target 5xx share of requests above threshold',
          new cloudwatch.MathExpression({
            expression: 'IF(requests > 0, 100 * errors / requests, 0)',
            usingMetrics: {
              errors: alb('HTTPCode_Target_5XX_Count', 'Sum'),
              requests: alb('RequestCount', 'Sum'),
            },
            period: minute,
            label: '5xx %',
          }),
          t.target5xxPercent ?? 5,
        );
        alarm(
          'p99-latency',
          'p99 target response time above threshold',
          alb('TargetResponseTime', 'p99'),
          (t.p99ResponseTime ?? Duration.seconds(2)).toMilliseconds() / 1000,
        );
        alarm(
          'unhealthy-hosts',
          'Unhealthy targets behind the load balancer',
          alb('UnHealthyHostCount', 'Maximum'),
          0,
        );
      }
    }

    const named = (props.alarmArns ?? []).map((arn) => arn.split(':alarm:')[1] ?? arn);
    this.registration = {
      cluster,
      service,
      alarmPrefixes: [prefix, ...(props.alarmNamePrefixes ?? []), ...named],
      minTasks: props.minTasks ?? 1,
      maxTasks: props.maxTasks ?? 10,
      ...(props.maintenanceTasks?.length ? { maintenanceTasks: [...props.maintenanceTasks] } : {}),
    };
    // The schema the registry agent applies at deploy time, here at synth (tokens stand in as names).
    parseServiceRegistration(
      {
        ...this.registration,
        cluster: Token.isUnresolved(cluster) ? 'cluster' : cluster,
        service: Token.isUnresolved(service) ? 'service' : service,
      },
      `WatchedService ${this.node.path}`,
    );
    this.registrationResource = new CustomResource(this, 'Registration', {
      serviceToken:
        props.homeostat?.registry.serviceToken ??
        ssm.StringParameter.valueForStringParameter(
          this,
          props.registryParameterName ?? registryParameterName('homeostat'),
        ),
      resourceType: 'Custom::HomeostatWatchedService',
      // An agent that never answers (crashed at start, throttled) fails the deploy in 5 minutes,
      // not CloudFormation's default hour.
      serviceTimeout: Duration.minutes(5),
      properties: { ...this.registration },
    });
  }
}
