/** Emulator fixtures shared by the tests and the demo: an ECS service, an alarm in a given state, and a queue capturing bus events. */
import { randomUUID } from 'node:crypto';
import {
  type CloudWatchClient,
  PutMetricAlarmCommand,
  SetAlarmStateCommand,
} from '@aws-sdk/client-cloudwatch';
import {
  CreateClusterCommand,
  CreateServiceCommand,
  type ECSClient,
  RegisterTaskDefinitionCommand,
} from '@aws-sdk/client-ecs';
import {
  DeleteRuleCommand,
  EventBridgeClient,
  PutRuleCommand,
  PutTargetsCommand,
  RemoveTargetsCommand,
} from '@aws-sdk/client-eventbridge';
import {
  CreateQueueCommand,
  DeleteQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import type { localClientConfig } from './deploy-local.ts';
import { waitFor } from './harness.ts';

export const uniqueName = (prefix: string) => `${prefix}-${randomUUID().slice(0, 8)}`;

type ClientConfig = ReturnType<typeof localClientConfig>;

/** Creates (or updates) a metric alarm named `name` and sets it to `state`, as CloudWatch would. */
export async function putAlarmInState(cloudwatch: CloudWatchClient, name: string, state: 'ALARM' | 'OK') {
  await cloudwatch.send(
    new PutMetricAlarmCommand({
      AlarmName: name,
      Namespace: 'Test',
      MetricName: name,
      Statistic: 'Sum',
      Period: 60,
      EvaluationPeriods: 1,
      Threshold: 1,
      ComparisonOperator: 'GreaterThanThreshold',
    }),
  );
  await cloudwatch.send(
    new SetAlarmStateCommand({ AlarmName: name, StateValue: state, StateReason: 'test' }),
  );
}

/** Registers a task definition and creates a service in the emulator's ECS control plane. */
export async function createEcsService(
  ecs: ECSClient,
  cluster: string,
  service: string,
  desiredCount: number,
  tags: Record<string, string> = {},
) {
  await ecs.send(new CreateClusterCommand({ clusterName: cluster }));
  const td = await ecs.send(
    new RegisterTaskDefinitionCommand({
      family: service,
      requiresCompatibilities: ['FARGATE'],
      networkMode: 'awsvpc',
      cpu: '256',
      memory: '512',
      containerDefinitions: [{ name: service, image: `${service}:1.0`, essential: true, memory: 512 }],
    }),
  );
  await ecs.send(
    new CreateServiceCommand({
      cluster,
      serviceName: service,
      taskDefinition: td.taskDefinition?.taskDefinitionArn,
      desiredCount,
      launchType: 'FARGATE',
      tags: Object.entries(tags).map(([key, value]) => ({ key, value })),
    }),
  );
  return td.taskDefinition?.taskDefinitionArn ?? '';
}

export interface EventCapture {
  /** Waits until an event whose `detail` satisfies `match` arrives, or fails at the deadline. */
  next<T = Record<string, unknown>>(match: (detail: T) => boolean, timeoutMs?: number): Promise<T>;
  /** Every event received so far. */
  received(): Record<string, unknown>[];
  dispose(): Promise<void>;
}

/** A rule on `busName` for `detailType` that delivers into a fresh SQS queue. */
export async function captureEvents(
  config: ClientConfig,
  busName: string,
  detailType: string,
): Promise<EventCapture> {
  const sqs = new SQSClient(config);
  const events = new EventBridgeClient(config);
  const name = uniqueName('capture');
  const queue = await sqs.send(new CreateQueueCommand({ QueueName: name }));
  const queueUrl = queue.QueueUrl as string;
  const attrs = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }),
  );
  await events.send(
    new PutRuleCommand({
      Name: name,
      EventBusName: busName,
      EventPattern: JSON.stringify({ 'detail-type': [detailType] }),
    }),
  );
  await events.send(
    new PutTargetsCommand({
      Rule: name,
      EventBusName: busName,
      Targets: [{ Id: 'queue', Arn: attrs.Attributes?.QueueArn }],
    }),
  );
  const seen: Record<string, unknown>[] = [];
  const drain = async () => {
    const out = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
    );
    for (const message of out.Messages ?? [])
      seen.push(JSON.parse(message.Body ?? '{}') as Record<string, unknown>);
  };
  return {
    received: () => seen,
    async next<T>(match: (detail: T) => boolean, timeoutMs = 30_000) {
      return waitFor(
        `an event of type ${detailType} on ${busName}`,
        async () => {
          await drain();
          return seen.map((e) => e.detail as T).find(match);
        },
        { timeoutMs, intervalMs: 100 },
      );
    },
    async dispose() {
      await events.send(new RemoveTargetsCommand({ Rule: name, EventBusName: busName, Ids: ['queue'] }));
      await events.send(new DeleteRuleCommand({ Name: name, EventBusName: busName }));
      await sqs.send(new DeleteQueueCommand({ QueueUrl: queueUrl }));
      sqs.destroy();
      events.destroy();
    },
  };
}
