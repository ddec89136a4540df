import { ArnFormat, Duration, Stack } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import type { RemediationConfig } from '../../shared/config/remediation.ts';
import { actionCatalog, maxMemoryMiB } from '../../shared/domain/actions.ts';
import { detailTypes } from '../../shared/events/detail-types.ts';
import { NagSuppressions, suppressWildcards } from '../nag.ts';
import { AgentFunction } from './agent-function.ts';
import {
  anyTaskDefinition,
  clusterArn,
  passRolesToEcsTasks,
  taskDefinitionArns,
  tasksOfCluster,
} from './ecs-permissions.ts';
import { agentSources, type HomeostatBus, relaySources } from './homeostat-bus.ts';
import type { KnowledgeDatabase } from './knowledge-database.ts';
import { readSettingsParameter } from './settings-parameter.ts';
import type { WatchedServiceProps } from './watched-service.ts';

export interface RemediationAgentsProps {
  readonly bus: HomeostatBus;
  readonly database: KnowledgeDatabase;
  readonly settings: RemediationConfig;
  /** The kill-switch SSM parameter (created here, value `off`). @default '/homeostat/kill-switch' */
  readonly killSwitchParameterName?: string;
  /** @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
  /**
   * The declared watched services: their clusters, maintenance tasks and task
   * roles are all the act agent may stop tasks in, run, and pass. @default none
   */
  readonly watchedServices?: readonly WatchedServiceProps[];
}

/** Concurrent executions reserved for (and capping) the approval function behind its public URL. */
export const approvalConcurrency = 5;

/** What the plan agent answers: a diagnosis (first or revised), or a step that failed and was undone. */
export const planTriggerPattern: events.EventPattern = {
  source: ['homeostat.diagnose', 'homeostat.verify'],
  detailType: [detailTypes.diagnosisCompleted, detailTypes.diagnosisRevised, detailTypes.remediationFailed],
};

/** Approved plans: by the policy (plan) or by a human (approve). */
export const planApprovedPattern: events.EventPattern = {
  source: ['homeostat.plan', 'homeostat.approve'],
  detailType: [detailTypes.planApproved],
};

/** The tag a service must carry for Homeostat to change it (enforced by IAM, not only by code). */
export const managedTag = { key: 'homeostat:managed', value: 'true' };

/**
 * The remediation loop: the plan, act and verify agents, the approval
 * function (a Function URL for approval links; direct invocation for the
 * CLI), the kill-switch parameter, the approval signing secret and the role
 * EventBridge Scheduler uses to fire one-time verification checks.
 */
export class RemediationAgents extends Construct {
  readonly plan: AgentFunction;
  readonly act: AgentFunction;
  readonly verify: AgentFunction;
  readonly approve: AgentFunction;
  readonly approvalUrl: lambda.FunctionUrl;
  readonly killSwitch: ssm.StringParameter;
  readonly approvalSecret: secretsmanager.Secret;
  readonly schedulerRole: iam.Role;

  constructor(scope: Construct, id: string, props: RemediationAgentsProps) {
    super(scope, id);
    const stack = Stack.of(this);
    this.killSwitch = new ssm.StringParameter(this, 'KillSwitch', {
      parameterName: props.killSwitchParameterName ?? '/homeostat/kill-switch',
      stringValue: 'off',
      description: 'Homeostat kill switch: "on" stops every action at once (read at most every 10 s)',
    });
    this.approvalSecret = new secretsmanager.Secret(this, 'ApprovalSigningKey', {
      description: 'Homeostat: signs approval links (HMAC-SHA256)',
      generateSecretString: { passwordLength: 64, excludePunctuation: true },
    });

    const common = {
      HOMEOSTAT_BUS_NAME: props.bus.bus.eventBusName,
      HOMEOSTAT_KILL_SWITCH_PARAMETER: this.killSwitch.parameterName,
    };
    const agent = (name: 'plan' | 'act' | 'verify', description: string, timeout: Duration) => {
      const a = new AgentFunction(this, name[0]?.toUpperCase() + name.slice(1), {
        agent: name,
        description,
        timeout,
        logRetention: props.logRetention,
        environment: common,
      });
      a.deadLetterOwnRejections();
      props.database.connect(a.function);
      // verify also relays what the other agents left unpublished in the outbox.
      props.bus.grantPublish(a.role, name === 'verify' ? relaySources : [agentSources[name]]);
      this.killSwitch.grantRead(a.function);
      readSettingsParameter(this, a, props.bus, 'remediation', props.settings);
      return a;
    };
    this.plan = agent(
      'plan',
      'Homeostat plan: candidates → policy → approved, approval or escalation',
      Duration.seconds(30),
    );
    this.act = agent(
      'act',
      'Homeostat act: snapshot, execute on ECS, schedule verification',
      Duration.minutes(2),
    );
    this.verify = agent(
      'verify',
      'Homeostat verify: resolved, re-check, or undo from the snapshot',
      Duration.minutes(2),
    );

    this.approve = new AgentFunction(this, 'Approve', {
      agent: 'approve',
      description: 'Homeostat approvals: signed links (Function URL) and the CLI',
      logRetention: props.logRetention,
      // Anyone may call the URL: a flood is throttled here instead of taking the account's concurrency.
      reservedConcurrentExecutions: approvalConcurrency,
      environment: {
        HOMEOSTAT_BUS_NAME: props.bus.bus.eventBusName,
        HOMEOSTAT_APPROVAL_SECRET_ARN: this.approvalSecret.secretArn,
      },
    });
    props.database.connect(this.approve.function);
    props.bus.grantPublish(this.approve.role, [agentSources.approve]);
    // The signed, expiring, single-use token is the credential; IAM auth would need signed browser requests.
    this.approvalUrl = this.approve.function.addFunctionUrl({ authType: lambda.FunctionUrlAuthType.NONE });
    this.approvalSecret.grantRead(this.approve.function);
    this.approvalSecret.grantRead(this.plan.function);
    this.plan.function.addEnvironment('HOMEOSTAT_APPROVAL_SECRET_ARN', this.approvalSecret.secretArn);
    this.plan.function.addEnvironment('HOMEOSTAT_APPROVAL_URL', this.approvalUrl.url);

    this.schedulerRole = new iam.Role(this, 'SchedulerRole', {
      assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', {
        conditions: { StringEquals: { 'aws:SourceAccount': stack.account } },
      }),
      description: 'EventBridge Scheduler invokes the Homeostat verify agent',
    });
    this.verify.function.grantInvoke(this.schedulerRole);
    for (const a of [this.act, this.verify]) {
      a.function.addEnvironment('HOMEOSTAT_SCHEDULER_ROLE_ARN', this.schedulerRole.roleArn);
      this.schedulerRole.grantPassRole(a.function.grantPrincipal);
      a.allow(
        new iam.PolicyStatement({
          sid: 'ScheduleVerification',
          actions: ['scheduler:CreateSchedule'],
          resources: [
            stack.formatArn({
              service: 'scheduler',
              resource: 'schedule',
              resourceName: 'default/homeostat-verify-*',
            }),
          ],
        }),
        'Verification schedules are named per incident and step at run time, under the homeostat-verify- prefix.',
      );
    }
    const declared = props.watchedServices ?? [];
    this.grantActions(this.act, declared);
    this.grantUndo(this.verify, declared);
    this.act.function.addEnvironment('HOMEOSTAT_VERIFY_FUNCTION_ARN', this.verify.function.functionArn);
    this.grantRead(this.plan);

    const rule = (ruleId: string, description: string, pattern: events.EventPattern, target: AgentFunction) =>
      new events.Rule(this, ruleId, {
        description,
        eventBus: props.bus.bus,
        eventPattern: pattern,
        targets: [
          new targets.LambdaFunction(target.function, {
            deadLetterQueue: target.deadLetterQueue,
            retryAttempts: 4,
            maxEventAge: Duration.hours(1),
          }),
        ],
      });
    rule(
      'PlanTrigger',
      'Diagnoses and failed steps to the Homeostat plan agent',
      planTriggerPattern,
      this.plan,
    );
    rule('PlanApproved', 'Approved plans to the Homeostat act agent', planApprovedPattern, this.act);
    // Nothing stays wedged: once a minute the verify agent mends what no event will move on
    // (shared/usecases/sweep.ts). A failed sweep is not retried: the next one comes a minute later.
    new events.Rule(this, 'Sweep', {
      description:
        'Every minute: the Homeostat verify agent sweeps abandoned steps, overdue checks, stalled incidents, expired approvals and the outbox',
      schedule: events.Schedule.rate(Duration.minutes(1)),
      targets: [
        new targets.LambdaFunction(this.verify.function, {
          deadLetterQueue: this.verify.deadLetterQueue,
          retryAttempts: 0,
        }),
      ],
    });

    suppressWildcards(
      this.schedulerRole.node.findChild('DefaultPolicy'),
      [`${this.verify.function.functionArn}:*`],
      'Invoking the verify agent includes its versions (function:name:*), as grantInvoke writes it.',
    );
    NagSuppressions.addResourceSuppressions(this.approvalSecret, [
      {
        id: 'AwsSolutions-SMG4',
        reason: 'Rotating the signing key would void open approval links; rotate it by hand when needed.',
      },
    ]);
  }

  /** Reading what the policy needs: services, task definitions, alarms. */
  private grantRead(agent: AgentFunction) {
    this.readServices(agent);
    agent.allow(
      new iam.PolicyStatement({
        sid: 'ReadTaskDefinitionsAndAlarms',
        actions: ['ecs:DescribeTaskDefinition', 'cloudwatch:DescribeAlarms'],
        resources: ['*'],
      }),
      'read-only; neither supports resource-level permissions.',
    );
  }

  private readServices(agent: AgentFunction) {
    agent.allow(
      new iam.PolicyStatement({
        sid: 'ReadServices',
        actions: ['ecs:DescribeServices'],
        resources: [Stack.of(this).formatArn({ service: 'ecs', resource: 'service', resourceName: '*' })],
      }),
      'Read-only: services may be registered at run time (the registry), so any service of the account and region.',
    );
  }

  /** Changes to services tagged homeostat:managed=true (and their fallback parameters): act, and verify's undo. */
  private grantManagedChanges(agent: AgentFunction, declared: readonly WatchedServiceProps[]) {
    const stack = Stack.of(this);
    const managed = { StringEquals: { [`aws:ResourceTag/${managedTag.key}`]: managedTag.value } };
    agent.allow(
      new iam.PolicyStatement({
        sid: 'ChangeManagedServices',
        actions: ['ecs:UpdateService'],
        resources: [stack.formatArn({ service: 'ecs', resource: 'service', resourceName: '*' })],
        conditions: managed,
      }),
      'Any service of the account and region, but only while tagged homeostat:managed=true (aws:ResourceTag condition).',
    );
    agent.allow(
      new iam.PolicyStatement({
        sid: 'FallbackParameters',
        actions: ['ssm:GetParameter', 'ssm:PutParameter', 'ssm:DeleteParameter'],
        resources: [stack.formatArn({ service: 'ssm', resource: 'parameter', resourceName: '*' })],
        conditions: managed,
      }),
      'Fallback parameters are registered at run time; only parameters tagged homeostat:managed=true (aws:ResourceTag condition).',
    );
    // Deploying a revision (a rollback, an undo, a new memory size) passes its task and execution roles.
    const pass = passRolesToEcsTasks(
      this,
      declared.flatMap((w) => w.taskRoles ?? []),
    );
    if (pass) agent.allow(pass);
  }

  /**
   * Exactly the catalog's IAM, scoped to what is declared: services only while
   * tagged homeostat:managed=true; tasks stopped only in the watched services'
   * clusters; only the declared maintenance task definitions run, each in its
   * service's cluster; revisions registered within the catalog's memory bound.
   */
  private grantActions(agent: AgentFunction, declared: readonly WatchedServiceProps[]) {
    const stack = Stack.of(this);
    const needed = new Set([...actionCatalog.values()].flatMap((a) => a.iam));
    this.grantRead(agent);
    this.grantManagedChanges(agent, declared);
    const clusters = [...new Set(declared.map((w) => w.cluster))];
    const inClusters = (names: string[]) => ({
      ArnEquals: { 'ecs:cluster': names.map((c) => clusterArn(this, c)) },
    });
    if (clusters.length > 0)
      agent.allow(
        new iam.PolicyStatement({
          sid: 'TasksOfWatchedClusters',
          actions: ['ecs:StopTask', 'ecs:DescribeTasks'].filter((a) => needed.has(a)),
          resources: clusters.map((c) => tasksOfCluster(this, c)),
          conditions: inClusters(clusters),
        }),
        "Tasks are created at run time: any task of the watched services' clusters only (also the ecs:cluster condition).",
      );
    for (const [n, cluster] of clusters.entries()) {
      const tasks = declared
        .filter((w) => w.cluster === cluster)
        .flatMap((w) => w.maintenanceTasks ?? [])
        .flatMap((t) => taskDefinitionArns(this, t));
      if (tasks.length === 0 || !needed.has('ecs:RunTask')) continue;
      agent.allow(
        new iam.PolicyStatement({
          sid: `RunMaintenanceTasks${n}`,
          actions: ['ecs:RunTask'],
          resources: [...new Set(tasks)],
          conditions: inClusters([cluster]),
        }),
        "A maintenance task declared by family runs its latest revision (family:*); only in its service's cluster (ecs:cluster).",
      );
    }
    if (needed.has('ecs:RegisterTaskDefinition'))
      agent.allow(
        new iam.PolicyStatement({
          sid: 'RegisterBoundedRevisions',
          actions: ['ecs:RegisterTaskDefinition'],
          resources: [anyTaskDefinition(this)],
          conditions: {
            NumericLessThanEquals: { 'ecs:task-memory': String(maxMemoryMiB) },
            StringEqualsIfExists: { 'ecs:privileged': 'false' },
          },
        }),
        `increase_memory registers a revision of the running service's family, known only at run time; at most ${maxMemoryMiB} MiB and no privileged container (conditions), carrying only roles it may pass.`,
      );
    agent.allow(
      new iam.PolicyStatement({
        sid: 'RotateManagedSecrets',
        actions: ['secretsmanager:RotateSecret', 'secretsmanager:DescribeSecret'],
        resources: [
          stack.formatArn({
            service: 'secretsmanager',
            resource: 'secret',
            resourceName: '*',
            arnFormat: ArnFormat.COLON_RESOURCE_NAME,
          }),
        ],
        conditions: { StringEquals: { [`aws:ResourceTag/${managedTag.key}`]: managedTag.value } },
      }),
      'Rotatable secrets are registered at run time; only secrets tagged homeostat:managed=true (aws:ResourceTag condition).',
    );
  }

  /**
   * What an undo needs (shared/domain/remediation.ts undoOperations): set the
   * desired count back, redeploy the snapshot revision, restore a fallback
   * parameter; and what verification reads (services, alarms). It never runs,
   * stops or registers anything, nor rotates a secret.
   */
  private grantUndo(agent: AgentFunction, declared: readonly WatchedServiceProps[]) {
    this.readServices(agent);
    agent.allow(
      new iam.PolicyStatement({
        sid: 'ReadAlarms',
        actions: ['cloudwatch:DescribeAlarms'],
        resources: ['*'],
      }),
      'read-only; it has no resource-level permissions (alarms are read by name prefix).',
    );
    this.grantManagedChanges(agent, declared);
  }
}
