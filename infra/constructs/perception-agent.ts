import { ArnFormat, Duration, Stack } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { AgentFunction } from './agent-function.ts';
import { agentSources, type HomeostatBus } from './homeostat-bus.ts';
import type { KnowledgeDatabase } from './knowledge-database.ts';

export interface PerceptionAgentProps {
  readonly bus: HomeostatBus;
  readonly database: KnowledgeDatabase;
  /** @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * How the perception queue feeds the agent. A batch is recorded in one
 * transaction (npm run bench, PGlite, two batches in flight: batches of 25 ≈
 * 2,500 signals/s with p99 ≈ 50 ms; one event at a time ≈ 300/s; batches of
 * 50 are faster but push p99 past 100 ms). The one-second window only adds
 * latency when events trickle in, and AWS requires a window for batches above
 * 10. A message that fails three receives is dead-lettered.
 */
export const perceptionBatch = {
  size: 25,
  windowSeconds: 1,
  maxConcurrency: 5,
  maxReceiveCount: 3,
} as const;

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
 * chaos markers (homeostat bus) → the perception queue, which absorbs alarm
 * storms → batches of signals and incidents in the knowledge base → their
 * events on the homeostat bus; a one-minute sweep self-resolves incidents that
 * recovered and went quiet. It may describe ECS services, read alarm tags,
 * publish on the homeostat bus and dead-letter what it rejects — nothing else.
 */
export class PerceptionAgent extends Construct {
  readonly agent: AgentFunction;
  readonly queue: sqs.Queue;
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
    const deadLetters = this.agent.deadLetterQueue;
    // Malformed events are dead-lettered by the agent itself, with the reason.
    this.agent.deadLetterOwnRejections();
    this.queue = new sqs.Queue(this, 'Queue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      // AWS's advice for a Lambda source: six times the function timeout.
      visibilityTimeout: fn.timeout ? Duration.seconds(fn.timeout.toSeconds() * 6) : Duration.minutes(3),
      retentionPeriod: Duration.days(4),
      deadLetterQueue: { queue: deadLetters, maxReceiveCount: perceptionBatch.maxReceiveCount },
    });
    fn.addEventSource(
      new SqsEventSource(this.queue, {
        batchSize: perceptionBatch.size,
        maxBatchingWindow: Duration.seconds(perceptionBatch.windowSeconds),
        maxConcurrency: perceptionBatch.maxConcurrency,
        reportBatchItemFailures: true,
      }),
    );
    props.database.connect(fn);
    props.bus.grantPublish(this.agent.role, [agentSources.perceive]);
    const stack = Stack.of(this);
    this.agent.allow(
      new iam.PolicyStatement({
        sid: 'DescribeEcsServices',
        actions: ['ecs:DescribeServices'],
        resources: [stack.formatArn({ service: 'ecs', resource: 'service', resourceName: '*' })],
      }),
      'Read-only: the services behind alarms and ECS events are known only when they arrive.',
    );
    this.agent.allow(
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
      'Read-only: any alarm of the account may carry homeostat:cluster/service tags.',
    );
    const delivery = { deadLetterQueue: deadLetters, retryAttempts: 8, maxEventAge: Duration.hours(2) };
    const target = () => new targets.SqsQueue(this.queue, delivery);
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
      targets: [new targets.LambdaFunction(fn, delivery)],
    });
  }
}
