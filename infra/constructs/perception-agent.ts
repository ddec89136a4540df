import { ArnFormat, Duration, Stack } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { NagSuppressions } from '../nag.ts';
import { AgentFunction } from './agent-function.ts';
import type { HomeostatBus } from './homeostat-bus.ts';
import type { KnowledgeDatabase } from './knowledge-database.ts';

export interface PerceptionAgentProps {
  readonly bus: HomeostatBus;
  readonly database: KnowledgeDatabase;
  /** @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
}

/** CloudWatch alarm state changes on the account's default bus. */
export const alarmStateChangePattern: events.EventPattern = {
  source: ['aws.cloudwatch'],
  detailType: ['CloudWatch Alarm State Change'],
};

/** ECS task, deployment and service events on the default bus. */
export const ecsEventsPattern: events.EventPattern = {
  source: ['aws.ecs'],
  detailType: ['ECS Task State Change', 'ECS Deployment State Change', 'ECS Service Action'],
};

/** Application signals and chaos markers on the homeostat bus. */
export const homeostatInputsPattern: events.EventPattern = {
  source: ['homeostat.app', 'homeostat.chaos'],
  detailType: ['app.signal', 'chaos.injected'],
};

/**
 * The perception agent: alarms and ECS events (default bus), app signals and
 * chaos markers (homeostat bus) → signals and incidents in the knowledge base
 * → their events on the homeostat bus; a one-minute sweep self-resolves
 * incidents that recovered and went quiet. It may describe ECS services, read
 * alarm tags and publish on the homeostat bus — nothing else.
 */
export class PerceptionAgent extends Construct {
  readonly agent: AgentFunction;
  readonly alarmRule: events.Rule;
  readonly ecsRule: events.Rule;
  readonly inputsRule: events.Rule;
  readonly sweepRule: events.Rule;

  constructor(scope: Construct, id: string, props: PerceptionAgentProps) {
    super(scope, id);
    this.agent = new AgentFunction(this, 'Agent', {
      agent: 'perceive',
      description: 'Homeostat perception: alarms and ECS events to signals',
      environment: { HOMEOSTAT_BUS_NAME: props.bus.bus.eventBusName },
      logRetention: props.logRetention,
    });
    const fn = this.agent.function;
    props.database.connect(fn);
    props.bus.grantPublish(fn);
    const stack = Stack.of(this);
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'DescribeEcsServices',
        actions: ['ecs:DescribeServices'],
        resources: [stack.formatArn({ service: 'ecs', resource: 'service', resourceName: '*' })],
      }),
    );
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'ReadAlarmTags',
        actions: ['cloudwatch:ListTagsForResource'],
        resources: [
          stack.formatArn({
            service: 'cloudwatch',
            resource: 'alarm',
            resourceName: '*',
            arnFormat: ArnFormat.COLON_RESOURCE_NAME,
          }),
        ],
      }),
    );
    const target = () =>
      new targets.LambdaFunction(fn, {
        deadLetterQueue: this.agent.deadLetterQueue,
        retryAttempts: 8,
        maxEventAge: Duration.hours(2),
      });
    this.alarmRule = new events.Rule(this, 'AlarmStateChanges', {
      description: 'CloudWatch alarm state changes to the Homeostat perception agent',
      eventPattern: alarmStateChangePattern,
      targets: [target()],
    });
    this.ecsRule = new events.Rule(this, 'EcsEvents', {
      description: 'ECS task, deployment and service events to the Homeostat perception agent',
      eventPattern: ecsEventsPattern,
      targets: [target()],
    });
    this.inputsRule = new events.Rule(this, 'AppSignalsAndChaosMarkers', {
      description: 'Application signals and chaos markers to the Homeostat perception agent',
      eventBus: props.bus.bus,
      eventPattern: homeostatInputsPattern,
      targets: [target()],
    });
    this.sweepRule = new events.Rule(this, 'QuietIncidentSweep', {
      description: 'Self-resolves incidents that recovered and stayed quiet',
      schedule: events.Schedule.rate(Duration.minutes(1)),
      targets: [target()],
    });
    NagSuppressions.addResourceSuppressions(
      fn,
      [
        {
          id: 'AwsSolutions-IAM5',
          reason:
            'DescribeServices and ListTagsForResource are read-only and the watched services and their alarms are not known at deploy time; the secret ARN suffix is random.',
          appliesTo: [
            {
              regex:
                '/^Resource::arn:<AWS::Partition>:ecs:(<AWS::Region>|[a-z0-9-]+):(<AWS::AccountId>|\\d{12}):service\\/\\*$/',
            },
            { regex: '/^Resource::arn:<AWS::Partition>:secretsmanager:.*-\\?\\?\\?\\?\\?\\?$/' },
            {
              regex:
                '/^Resource::arn:<AWS::Partition>:cloudwatch:(<AWS::Region>|[a-z0-9-]+):(<AWS::AccountId>|\\d{12}):alarm:\\*$/',
            },
          ],
        },
      ],
      true,
    );
  }
}
