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
import { actionCatalog } from '../../shared/domain/actions.ts';
import { detailTypes } from '../../shared/events/detail-types.ts';
import { NagSuppressions } from '../nag.ts';
import { AgentFunction } from './agent-function.ts';
import type { HomeostatBus } from './homeostat-bus.ts';
import type { KnowledgeDatabase } from './knowledge-database.ts';

export interface RemediationAgentsProps {
  readonly bus: HomeostatBus;
  readonly database: KnowledgeDatabase;
  readonly settings: RemediationConfig;
  /** The kill-switch SSM parameter (created here, value `off`). @default '/homeostat/kill-switch' */
  readonly killSwitchParameterName?: string;
  /** @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
}

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

/** Registering a task definition passes its task and execution roles, to ECS tasks only. */
export const passTaskRolesToEcs = () =>
  new iam.PolicyStatement({
    sid: 'PassTaskRolesToEcs',
    actions: ['iam:PassRole'],
    resources: ['*'],
    conditions: { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } },
  });

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
      HOMEOSTAT_REMEDIATION: JSON.stringify(props.settings),
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
      props.bus.grantPublish(a.function);
      this.killSwitch.grantRead(a.function);
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
      environment: {
        HOMEOSTAT_BUS_NAME: props.bus.bus.eventBusName,
        HOMEOSTAT_APPROVAL_SECRET_ARN: this.approvalSecret.secretArn,
      },
    });
    props.database.connect(this.approve.function);
    props.bus.grantPublish(this.approve.function);
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
      a.function.addToRolePolicy(
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
      );
      this.grantActions(a.function);
    }
    this.act.function.addEnvironment('HOMEOSTAT_VERIFY_FUNCTION_ARN', this.verify.function.functionArn);
    this.grantRead(this.plan.function);

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

    for (const fn of [this.plan, this.act, this.verify].map((a) => a.function))
      NagSuppressions.addResourceSuppressions(
        fn,
        [
          {
            id: 'AwsSolutions-IAM5',
            reason:
              'The watched services, their task definitions, alarms and fallback parameters are registered at run time; ECS task-definition and RunTask calls have no resource-level scoping by service; mutations on services require the homeostat:managed tag; schedules are limited to the homeostat-verify- prefix.',
            appliesTo: [
              'Resource::*',
              {
                regex:
                  '/^Resource::arn:<AWS::Partition>:(ecs|cloudwatch|ssm|secretsmanager|scheduler):.*\\*$/',
              },
              { regex: '/^Resource::arn:<AWS::Partition>:secretsmanager:.*-\\?\\?\\?\\?\\?\\?$/' },
            ],
          },
        ],
        true,
      );
    NagSuppressions.addResourceSuppressions(
      this.approve.function,
      [
        {
          id: 'AwsSolutions-IAM5',
          reason: 'The database secret ARN ends in a random suffix.',
          appliesTo: [{ regex: '/^Resource::arn:<AWS::Partition>:secretsmanager:.*-\\?\\?\\?\\?\\?\\?$/' }],
        },
      ],
      true,
    );
    NagSuppressions.addResourceSuppressions(
      this.schedulerRole,
      [
        {
          id: 'AwsSolutions-IAM5',
          reason:
            'Invoking the verify agent includes its versions (function:name:*), as grantInvoke writes it.',
          appliesTo: [{ regex: '/^Resource::<.*VerifyFunction.*\\.Arn>:\\*$/' }],
        },
      ],
      true,
    );
    NagSuppressions.addResourceSuppressions(this.approvalSecret, [
      {
        id: 'AwsSolutions-SMG4',
        reason: 'Rotating the signing key would void open approval links; rotate it by hand when needed.',
      },
    ]);
  }

  /** Reading what the policy needs: services, task definitions. */
  private grantRead(fn: lambda.IFunction) {
    const stack = Stack.of(this);
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'ReadServices',
        actions: ['ecs:DescribeServices'],
        resources: [stack.formatArn({ service: 'ecs', resource: 'service', resourceName: '*' })],
      }),
    );
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'ReadTaskDefinitionsAndAlarms',
        // DescribeTaskDefinition has no resource-level permissions.
        actions: ['ecs:DescribeTaskDefinition', 'cloudwatch:DescribeAlarms'],
        resources: ['*'],
      }),
    );
  }

  /** Exactly the catalog's IAM: mutations only on services tagged homeostat:managed=true. */
  private grantActions(fn: lambda.IFunction) {
    const stack = Stack.of(this);
    this.grantRead(fn);
    const needed = new Set([...actionCatalog.values()].flatMap((a) => a.iam));
    const service = stack.formatArn({ service: 'ecs', resource: 'service', resourceName: '*' });
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'ChangeManagedServices',
        actions: ['ecs:UpdateService'],
        resources: [service],
        conditions: { StringEquals: { [`aws:ResourceTag/${managedTag.key}`]: managedTag.value } },
      }),
    );
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'TasksOfManagedClusters',
        actions: ['ecs:StopTask', 'ecs:DescribeTasks', 'ecs:RunTask', 'ecs:RegisterTaskDefinition'].filter(
          (a) => needed.has(a),
        ),
        resources: ['*'],
      }),
    );
    fn.addToRolePolicy(passTaskRolesToEcs());
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'FallbackParameters',
        actions: ['ssm:GetParameter', 'ssm:PutParameter', 'ssm:DeleteParameter'],
        resources: [stack.formatArn({ service: 'ssm', resource: 'parameter', resourceName: '*' })],
        conditions: { StringEquals: { [`aws:ResourceTag/${managedTag.key}`]: managedTag.value } },
      }),
    );
    fn.addToRolePolicy(
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
    );
  }
}
