import { Annotations, ArnFormat, Duration, NestedStack, Stack } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as fis from 'aws-cdk-lib/aws-fis';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import type { ChaosConfig, ExperimentParameter } from '../../shared/config/chaos.ts';
import {
  chaosParametersPath,
  chaosSettingsKey,
  experimentKey,
  settingsMaxAgeSeconds,
} from '../../shared/config/settings-parameters.ts';
import { chaosOptInTag, type FisAction } from '../../shared/domain/chaos.ts';
import type { ChaosRunRequest } from '../../shared/events/chaos-commands.ts';
import { detailTypes } from '../../shared/events/detail-types.ts';
import { NagSuppressions, suppressWildcards } from '../nag.ts';
import { AgentFunction } from './agent-function.ts';
import { anyTaskDefinition, clusterArn, passRolesToEcsTasks, tasksOfCluster } from './ecs-permissions.ts';
import { agentSources, type HomeostatBus } from './homeostat-bus.ts';
import type { KnowledgeDatabase } from './knowledge-database.ts';
import type { WatchedServiceProps } from './watched-service.ts';

/** The tag on every revision (and FIS experiment) chaos creates: the experiment's id. */
export const chaosExperimentTag = 'homeostat:chaos-experiment';

export interface ChaosAgentProps {
  readonly bus: HomeostatBus;
  readonly database: KnowledgeDatabase;
  readonly config: ChaosConfig;
  /** The kill switch stops chaos too. */
  readonly killSwitch: ssm.IStringParameter;
  readonly logRetention?: logs.RetentionDays;
  /** The declared watched services: a bad_deployment target's task roles are the only ones chaos may pass. @default none */
  readonly watchedServices?: readonly WatchedServiceProps[];
}

/** Closed incidents' learning, which completes a chaos experiment's game-day score. */
export const chaosScoringPattern: events.EventPattern = {
  source: ['homeostat.learn'],
  detailType: [detailTypes.learningRecorded],
};

/** AWS FIS ECS task actions, by the name experiments use. */
export const fisActionIds: Record<FisAction, string> = {
  cpu_stress: 'aws:ecs:task-cpu-stress',
  io_stress: 'aws:ecs:task-io-stress',
  network_latency: 'aws:ecs:task-network-latency',
  network_packet_loss: 'aws:ecs:task-network-packet-loss',
};

/**
 * The chaos agent: experiments declared in `homeostat:chaos` are written to
 * SSM Parameter Store, one String parameter per experiment under
 * `/homeostat/<busName>/chaos/experiments/` plus `/homeostat/<busName>/chaos/settings`
 * (guardrails, revert retries); the agent gets only the path and reads them
 * back (cached 60 s), so its environment stays small however many experiments
 * there are. Scheduled experiments become EventBridge Scheduler schedules (disabled unless enabled in the config);
 * each run passes the guardrails, injects, and schedules its own revert
 * through a one-time schedule; a sweep every five minutes reverts anything
 * overdue; learning.recorded completes the game-day score. FIS experiments
 * get an experiment template with the configured alarms as stop conditions.
 * IAM is scoped to the configured targets: their services (and only while
 * tagged homeostat:chaos=opt-in), their clusters' tasks, their parameters,
 * their FIS templates.
 */
export class ChaosAgent extends Construct {
  readonly agent: AgentFunction;
  readonly schedulerRole: iam.Role;
  readonly schedules: scheduler.CfnSchedule[];
  readonly fisTemplates: Record<string, fis.CfnExperimentTemplate> = {};
  /** The path holding the settings and experiment parameters (no trailing slash). */
  readonly parametersPath: string;
  /** The parameters: `settings`, and `experiments/<name>` per experiment. */
  readonly parameters: Record<string, ssm.StringParameter> = {};

  constructor(scope: Construct, id: string, props: ChaosAgentProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const { config } = props;
    this.parametersPath = chaosParametersPath(props.bus.name);
    // Its revert schedules invoke it: a fixed name gives it its own ARN without a reference cycle.
    const functionName = `${stack.stackName}-chaos`.slice(0, 64);
    this.agent = new AgentFunction(this, 'Chaos', {
      agent: 'chaos',
      functionName,
      description: 'Homeostat chaos: guarded fault injection, scheduled reverts, game-day scores',
      timeout: Duration.minutes(2),
      logRetention: props.logRetention,
      environment: {
        HOMEOSTAT_BUS_NAME: props.bus.bus.eventBusName,
        HOMEOSTAT_KILL_SWITCH_PARAMETER: props.killSwitch.parameterName,
        HOMEOSTAT_CHAOS_PARAMETERS_PATH: this.parametersPath,
        HOMEOSTAT_CHAOS_FUNCTION_ARN: stack.formatArn({
          service: 'lambda',
          resource: 'function',
          resourceName: functionName,
          arnFormat: ArnFormat.COLON_RESOURCE_NAME,
        }),
      },
    });
    const fn = this.agent.function;
    this.agent.deadLetterOwnRejections();
    props.database.connect(fn);
    props.bus.grantPublish(this.agent.role, [agentSources.chaos]);
    props.killSwitch.grantRead(fn);

    this.schedulerRole = new iam.Role(this, 'SchedulerRole', {
      assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': stack.account } },
      }),
      description: 'EventBridge Scheduler runs and reverts Homeostat chaos experiments',
    });
    fn.grantInvoke(this.schedulerRole);
    this.agent.deadLetterQueue.grantSendMessages(this.schedulerRole);
    this.schedulerRole.grantPassRole(fn.grantPrincipal);
    fn.addEnvironment('HOMEOSTAT_SCHEDULER_ROLE_ARN', this.schedulerRole.roleArn);
    this.agent.allow(
      new iam.PolicyStatement({
        sid: 'ScheduleReverts',
        actions: ['scheduler:CreateSchedule'],
        resources: [
          stack.formatArn({
            service: 'scheduler',
            resource: 'schedule',
            resourceName: 'default/homeostat-chaos-revert-*',
          }),
        ],
      }),
      'Revert schedules are named per run at run time, under the homeostat-chaos-revert- prefix.',
    );
    this.grantTargets(config, props.watchedServices ?? []);
    this.createFisTemplates(config);
    this.createParameters(config);

    this.schedules = config.experiments.flatMap((e) => {
      if (!e.schedule) return [];
      const input: ChaosRunRequest & { scheduledTime: string } = {
        homeostat: 'chaos.run',
        experiment: e.name,
        dryRun: false,
        requestedBy: `schedule:${e.name}`,
        // Filled in by Scheduler at each firing: one run per firing, however often it is delivered.
        scheduledTime: '<aws.scheduler.scheduled-time>',
      };
      return [
        new scheduler.CfnSchedule(this, `Schedule-${e.name}`, {
          name: `${stack.stackName}-chaos-${e.name}`.slice(0, 64),
          description: `Homeostat chaos experiment ${e.name}: ${e.fault.kind} on ${e.target.cluster}/${e.target.service}`,
          scheduleExpression: e.schedule.expression,
          scheduleExpressionTimezone: e.schedule.timezone,
          flexibleTimeWindow:
            e.schedule.flexibleWindowMinutes > 0
              ? { mode: 'FLEXIBLE', maximumWindowInMinutes: e.schedule.flexibleWindowMinutes }
              : { mode: 'OFF' },
          state: e.schedule.enabled ? 'ENABLED' : 'DISABLED',
          target: {
            arn: fn.functionArn,
            roleArn: this.schedulerRole.roleArn,
            input: JSON.stringify(input),
            retryPolicy: { maximumRetryAttempts: 2, maximumEventAgeInSeconds: 600 },
            deadLetterConfig: { arn: this.agent.deadLetterQueue.queueArn },
          },
        }),
      ];
    });

    const delivery = {
      deadLetterQueue: this.agent.deadLetterQueue,
      retryAttempts: 4,
      maxEventAge: Duration.hours(6),
    };
    new events.Rule(this, 'RevertSweep', {
      description: 'Reverts chaos experiments whose revert schedule did not fire',
      schedule: events.Schedule.rate(Duration.minutes(5)),
      targets: [new targets.LambdaFunction(fn, delivery)],
    });
    new events.Rule(this, 'Scoring', {
      description:
        'Closed incidents’ learning completes the game-day score of the experiment that caused them',
      eventBus: props.bus.bus,
      eventPattern: chaosScoringPattern,
      targets: [new targets.LambdaFunction(fn, delivery)],
    });

    suppressWildcards(
      this.schedulerRole.node.findChild('DefaultPolicy'),
      [`${fn.functionArn}:*`],
      'Invoking the chaos agent includes its versions (function:name:*), as grantInvoke writes it.',
    );
  }

  /** Exactly what the configured experiments need, on their targets only. */
  private grantTargets(config: ChaosConfig, watched: readonly WatchedServiceProps[]) {
    const stack = Stack.of(this);
    const experiments = config.experiments;
    this.agent.allow(
      new iam.PolicyStatement({
        sid: 'ReadTargets',
        actions: [
          'ecs:DescribeServices',
          'ecs:ListTasks',
          'ecs:DescribeTasks',
          'ecs:DescribeTaskDefinition',
          'cloudwatch:DescribeAlarms',
        ],
        resources: ['*'],
      }),
      'read-only guardrail checks (targets, their tasks, revisions and alarms); ListTasks, DescribeTaskDefinition and DescribeAlarms have no resource-level permissions.',
    );
    if (experiments.length === 0) return;
    const serviceArn = (cluster: string, service: string) =>
      stack.formatArn({ service: 'ecs', resource: 'service', resourceName: `${cluster}/${service}` });
    this.agent.allow(
      new iam.PolicyStatement({
        sid: 'ChangeOptedInTargets',
        actions: ['ecs:UpdateService'],
        resources: [...new Set(experiments.map((e) => serviceArn(e.target.cluster, e.target.service)))],
        conditions: { StringEquals: { [`aws:ResourceTag/${chaosOptInTag.key}`]: chaosOptInTag.value } },
      }),
    );
    const stopping = [
      ...new Set(experiments.filter((e) => e.fault.kind === 'stop_tasks').map((e) => e.target.cluster)),
    ];
    if (stopping.length > 0)
      this.agent.allow(
        new iam.PolicyStatement({
          sid: 'StopTasksOfTargets',
          actions: ['ecs:StopTask'],
          resources: stopping.map((c) => tasksOfCluster(this, c)),
          conditions: { ArnEquals: { 'ecs:cluster': stopping.map((c) => clusterArn(this, c)) } },
        }),
        "Tasks are created at run time: any task of the stop_tasks targets' clusters only (also the ecs:cluster condition).",
      );
    const breaking = experiments.filter((e) => e.fault.kind === 'bad_deployment');
    if (breaking.length > 0) {
      const onlyTheExperimentTag = { 'ForAllValues:StringEquals': { 'aws:TagKeys': [chaosExperimentTag] } };
      this.agent.allow(
        new iam.PolicyStatement({
          sid: 'RegisterBrokenRevisions',
          actions: ['ecs:RegisterTaskDefinition'],
          resources: [anyTaskDefinition(this)],
          conditions: {
            Null: { [`aws:RequestTag/${chaosExperimentTag}`]: 'false' },
            ...onlyTheExperimentTag,
            StringEqualsIfExists: { 'ecs:privileged': 'false' },
          },
        }),
        `A broken revision of the target's family, known only at run time; only revisions tagged ${chaosExperimentTag} (request-tag conditions), without privileged containers.`,
      );
      // Tagging on creation only: it can tag nothing that exists (homeostat:managed, homeostat:chaos).
      this.agent.allow(
        new iam.PolicyStatement({
          sid: 'TagRevisionsOnRegistration',
          actions: ['ecs:TagResource'],
          resources: [anyTaskDefinition(this)],
          conditions: {
            StringEquals: { 'ecs:CreateAction': 'RegisterTaskDefinition' },
            ...onlyTheExperimentTag,
          },
        }),
        `Only while registering a revision (ecs:CreateAction) and only the ${chaosExperimentTag} tag.`,
      );
      this.agent.allow(
        new iam.PolicyStatement({
          sid: 'RetireBrokenRevisions',
          actions: ['ecs:DeregisterTaskDefinition'],
          resources: ['*'],
        }),
        'the revert retires the broken revision it registered; ECS defines no resource type or condition key for DeregisterTaskDefinition.',
      );
      const roles = breaking.flatMap((e) => {
        const declared = watched.find(
          (w) => w.cluster === e.target.cluster && w.service === e.target.service,
        );
        if (!declared?.taskRoles?.length)
          Annotations.of(this).addWarningV2(
            `homeostat:chaos-roles-${e.name}`,
            `bad_deployment ${e.name}: ${e.target.cluster}/${e.target.service} declares no taskRoles in homeostat:watchedServices; registering its broken revision is refused if its task definition has a task or execution role.`,
          );
        return declared?.taskRoles ?? [];
      });
      const pass = passRolesToEcsTasks(this, roles);
      if (pass) this.agent.allow(pass);
    }
    const parameters = experiments.flatMap((e) =>
      e.fault.kind === 'break_dependency' ? [e.fault.parameterName] : [],
    );
    if (parameters.length > 0)
      this.agent.allow(
        new iam.PolicyStatement({
          sid: 'DependencyParameters',
          actions: ['ssm:GetParameter', 'ssm:PutParameter', 'ssm:DeleteParameter'],
          resources: [...new Set(parameters)].map((name) =>
            stack.formatArn({ service: 'ssm', resource: 'parameter', resourceName: name.replace(/^\//, '') }),
          ),
        }),
      );
  }

  private createFisTemplates(config: ChaosConfig) {
    const stack = Stack.of(this);
    const experiments = config.experiments.flatMap((e) =>
      e.fault.kind === 'fis' ? [{ ...e, fault: e.fault }] : [],
    );
    if (experiments.length === 0) return;
    const role = new iam.Role(this, 'FisRole', {
      assumedBy: new iam.ServicePrincipal('fis.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': stack.account } },
      }),
      description: 'AWS FIS runs Homeostat chaos ECS task actions',
      managedPolicies: [
        iam.ManagedPolicy.fromAwsManagedPolicyName('service-role/AWSFaultInjectionSimulatorECSAccess'),
      ],
    });
    NagSuppressions.addResourceSuppressions(role, [
      {
        id: 'AwsSolutions-IAM4',
        reason: 'The AWS managed FIS policy for ECS task actions is the documented minimum.',
      },
    ]);
    for (const e of experiments) {
      const template = new fis.CfnExperimentTemplate(this, `Fis-${e.name}`, {
        description: `Homeostat chaos ${e.name}: ${e.fault.action} on ${e.fault.percentage}% of ${e.target.cluster}/${e.target.service}`,
        roleArn: role.roleArn,
        stopConditions: e.fault.stopAlarms.map((alarm) => ({
          source: 'aws:cloudwatch:alarm',
          value: stack.formatArn({
            service: 'cloudwatch',
            resource: 'alarm',
            resourceName: alarm,
            arnFormat: ArnFormat.COLON_RESOURCE_NAME,
          }),
        })),
        targets: {
          Tasks: {
            resourceType: 'aws:ecs:task',
            parameters: { cluster: e.target.cluster, service: e.target.service },
            selectionMode: `PERCENT(${e.fault.percentage})`,
          },
        },
        actions: {
          Fault: {
            actionId: fisActionIds[e.fault.action],
            parameters: { duration: `PT${e.durationMinutes}M` },
            targets: { Tasks: 'Tasks' },
          },
        },
        tags: { Name: `homeostat-chaos-${e.name}`, [chaosExperimentTag]: e.name },
      });
      this.fisTemplates[e.name] = template;
    }
    this.agent.allow(
      new iam.PolicyStatement({
        sid: 'RunFisExperiments',
        actions: ['fis:StartExperiment', 'fis:GetExperiment', 'fis:StopExperiment', 'fis:TagResource'],
        resources: [
          ...Object.values(this.fisTemplates).map((t) =>
            stack.formatArn({ service: 'fis', resource: 'experiment-template', resourceName: t.attrId }),
          ),
          stack.formatArn({ service: 'fis', resource: 'experiment', resourceName: '*' }),
        ],
      }),
      "Experiments start from this stack's templates only; each experiment's id exists only once it is started.",
    );
  }

  /**
   * One String parameter (standard tier, ≤ 4 KB) per experiment and one for the settings, read
   * by the agent with GetParametersByPath on its path only. A FIS experiment's parameter also
   * carries its template's id. Each value is the JSON the synth validated.
   */
  private createParameters(config: ChaosConfig) {
    const stack = Stack.of(this);
    // The experiments' parameters live in a nested stack: a hundred of them would otherwise take
    // a fifth of the Homeostat stack's 500 resources, next to the watched services kept there.
    const experimentsStack =
      config.experiments.length > 0
        ? new NestedStack(this, 'Experiments', {
            description: 'Homeostat chaos experiments: one SSM parameter each (context homeostat:chaos)',
          })
        : undefined;
    const write = (key: string, value: string, description: string, scope: Construct = this) => {
      if (Buffer.byteLength(value) > 4096)
        throw new Error(
          `chaos ${key}: ${Buffer.byteLength(value)} bytes of JSON, over a standard parameter's 4 KB`,
        );
      this.parameters[key] = new ssm.StringParameter(scope, `Parameter-${key.replace(/\//g, '-')}`, {
        parameterName: `${this.parametersPath}/${key}`,
        stringValue: value,
        tier: ssm.ParameterTier.STANDARD,
        description,
      });
    };
    const { experiments, ...settings } = config;
    write(
      chaosSettingsKey,
      JSON.stringify(settings),
      'Homeostat chaos guardrails and revert retries (written by the deploy: change context homeostat:chaos)',
    );
    for (const e of experiments) {
      const template = this.fisTemplates[e.name];
      const value: ExperimentParameter = template ? { ...e, fisTemplateId: template.attrId } : e;
      write(
        experimentKey(e.name),
        template && experimentsStack ? experimentsStack.toJsonString(value) : JSON.stringify(value),
        `Homeostat chaos experiment ${e.name} (written by the deploy: change context homeostat:chaos)`,
        experimentsStack,
      );
    }
    const path = this.parametersPath.replace(/^\//, '');
    this.agent.allow(
      new iam.PolicyStatement({
        sid: 'ReadChaosParameters',
        actions: ['ssm:GetParametersByPath', 'ssm:GetParameter', 'ssm:GetParameters'],
        resources: [
          stack.formatArn({ service: 'ssm', resource: 'parameter', resourceName: path }),
          stack.formatArn({ service: 'ssm', resource: 'parameter', resourceName: `${path}/*` }),
        ],
      }),
      `Its own settings and experiment parameters: every parameter under ${this.parametersPath} (one per experiment, read by path, cached ${settingsMaxAgeSeconds} s).`,
    );
  }
}
