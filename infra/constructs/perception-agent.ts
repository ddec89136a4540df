import { Duration, Stack } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { NagSuppressions } from '../nag.ts';
import { AgentFunction } from './agent-function.ts';
import type { HomeostatBus } from './homeostat-bus.ts';
import type { KnowledgeDatabase } from './knowledge-database.ts';

export interface PerceptionAgentProps {
  readonly bus: HomeostatBus;
  readonly database: KnowledgeDatabase;
}

/** Pattern for CloudWatch alarm state changes on the account's default bus. */
export const alarmStateChangePattern: events.EventPattern = {
  source: ['aws.cloudwatch'],
  detailType: ['CloudWatch Alarm State Change'],
};

/**
 * The perception agent: alarm state changes on the default bus → signals in
 * the knowledge base → `signal.received` on the homeostat bus. It may describe
 * ECS services and publish on the homeostat bus — nothing else.
 */
export class PerceptionAgent extends Construct {
  readonly agent: AgentFunction;
  readonly alarmRule: events.Rule;

  constructor(scope: Construct, id: string, props: PerceptionAgentProps) {
    super(scope, id);
    this.agent = new AgentFunction(this, 'Agent', {
      agent: 'perceive',
      description: 'Homeostat perception: alarms and ECS events to signals',
      environment: { HOMEOSTAT_BUS_NAME: props.bus.bus.eventBusName },
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
    this.alarmRule = new events.Rule(this, 'AlarmStateChanges', {
      description: 'CloudWatch alarm state changes to the Homeostat perception agent',
      eventPattern: alarmStateChangePattern,
      targets: [
        new targets.LambdaFunction(fn, {
          deadLetterQueue: this.agent.deadLetterQueue,
          retryAttempts: 8,
          maxEventAge: Duration.hours(2),
        }),
      ],
    });
    NagSuppressions.addResourceSuppressions(
      fn,
      [
        {
          id: 'AwsSolutions-IAM5',
          reason:
            'DescribeServices is read-only and the watched services are not known at deploy time; the secret ARN suffix is random.',
          appliesTo: [
            {
              regex:
                '/^Resource::arn:<AWS::Partition>:ecs:(<AWS::Region>|[a-z0-9-]+):(<AWS::AccountId>|\\d{12}):service\\/\\*$/',
            },
            { regex: '/^Resource::arn:<AWS::Partition>:secretsmanager:.*-\\?\\?\\?\\?\\?\\?$/' },
          ],
        },
      ],
      true,
    );
  }
}
