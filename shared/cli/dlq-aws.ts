/**
 * The real dependencies of `homeostat dlq`: the agent's function (the stack's
 * `<Agent>FunctionName` output, or --function), its dead-letter queue (the function's
 * asynchronous on-failure destination, GetFunctionEventInvokeConfig — the same queue
 * the EventBridge targets dead-letter to), SQS to read and delete, and Lambda/SQS to
 * re-deliver. The usual AWS profile/region variables (AWS_ENDPOINT_URL for the local stack).
 */
import { GetFunctionEventInvokeConfigCommand, InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { awsRegion, stackOutput } from './cli-config.ts';
import type { Redelivery } from './dead-letter-shapes.ts';
import { agentFunctionOutputs, type DeadLetterQueue, type DlqDeps, type ReceivedDeadLetter } from './dlq.ts';

/** An SQS queue's URL from its ARN (arn:partition:sqs:region:account:name). */
async function queueUrlOf(sqs: SQSClient, queueArn: string): Promise<string> {
  const [, , service, , account, name] = queueArn.split(':');
  if (service !== 'sqs' || !account || !name) throw new Error(`${queueArn} is not an SQS queue ARN`);
  const { QueueUrl } = await sqs.send(
    new GetQueueUrlCommand({ QueueName: name, QueueOwnerAWSAccountId: account }),
  );
  if (!QueueUrl) throw new Error(`SQS returned no URL for ${queueArn}`);
  return QueueUrl;
}

/** SQS as a {@link DeadLetterQueue}: reads page by page (10 a call), hiding each message while held. */
export class SqsDeadLetterQueue implements DeadLetterQueue {
  constructor(
    private readonly sqs: SQSClient,
    readonly url: string,
  ) {}

  async depth() {
    const { Attributes: a = {} } = await this.sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: this.url,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
      }),
    );
    return {
      visible: Number(a.ApproximateNumberOfMessages ?? 0),
      inFlight: Number(a.ApproximateNumberOfMessagesNotVisible ?? 0),
    };
  }

  async receive(max: number, holdSeconds: number): Promise<ReceivedDeadLetter[]> {
    const out: ReceivedDeadLetter[] = [];
    while (out.length < max) {
      const { Messages = [] } = await this.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: this.url,
          MaxNumberOfMessages: Math.min(10, max - out.length),
          VisibilityTimeout: holdSeconds,
          // Long polling (1 s) asks every SQS server, so a page is empty only when the queue is.
          WaitTimeSeconds: 1,
          MessageAttributeNames: ['All'],
          MessageSystemAttributeNames: [
            'SentTimestamp',
            'ApproximateReceiveCount',
            'DeadLetterQueueSourceArn',
          ],
        }),
      );
      if (Messages.length === 0) break;
      for (const m of Messages) {
        if (!m.MessageId || !m.ReceiptHandle) continue;
        out.push({
          messageId: m.MessageId,
          receiptHandle: m.ReceiptHandle,
          body: m.Body ?? '',
          attributes: Object.fromEntries(
            Object.entries(m.MessageAttributes ?? {}).flatMap(([k, v]) =>
              v.StringValue !== undefined ? [[k, v.StringValue]] : [],
            ),
          ),
          system: Object.fromEntries(
            Object.entries(m.Attributes ?? {}).filter((e): e is [string, string] => e[1] !== undefined),
          ),
        });
      }
    }
    return out;
  }

  async release(letters: readonly ReceivedDeadLetter[]) {
    for (let i = 0; i < letters.length; i += 10) {
      const page = letters.slice(i, i + 10);
      const { Failed = [] } = await this.sqs.send(
        new ChangeMessageVisibilityBatchCommand({
          QueueUrl: this.url,
          Entries: page.map((l, n) => ({
            Id: String(n),
            ReceiptHandle: l.receiptHandle,
            VisibilityTimeout: 0,
          })),
        }),
      );
      if (Failed.length > 0)
        throw new Error(
          `${Failed.length} message(s) could not be made visible again (they reappear when their hold ends): ${Failed.map((f) => f.Message).join('; ')}`,
        );
    }
  }

  async remove(letter: ReceivedDeadLetter) {
    await this.sqs.send(
      new DeleteMessageCommand({ QueueUrl: this.url, ReceiptHandle: letter.receiptHandle }),
    );
  }
}

/**
 * The dead-letter queue ARN of `functionName`: its asynchronous on-failure destination.
 * The function's own settings, else those of `$LATEST` (where CDK's EventInvokeConfig puts them).
 */
async function onFailureQueueArn(lambda: LambdaClient, functionName: string): Promise<string> {
  let destination: string | undefined;
  for (const qualifier of [undefined, '$LATEST']) {
    try {
      const config = await lambda.send(
        new GetFunctionEventInvokeConfigCommand({ FunctionName: functionName, Qualifier: qualifier }),
      );
      destination = config.DestinationConfig?.OnFailure?.Destination;
      break;
    } catch (error) {
      if ((error as Error).name !== 'ResourceNotFoundException') throw error;
      if (qualifier)
        throw new Error(`function ${functionName} not found, or it has no asynchronous invocation settings`, {
          cause: error,
        });
    }
  }
  if (!destination?.includes(':sqs:'))
    throw new Error(
      `function ${functionName} has no SQS on-failure destination${destination ? ` (it is ${destination})` : ''}: not a Homeostat agent?`,
    );
  return destination;
}

/** The real {@link DlqDeps}; `close()` releases the clients. */
export async function awsDlqDeps(): Promise<{ deps: DlqDeps; close(): void }> {
  await awsRegion();
  const sqs = new SQSClient({});
  const lambda = new LambdaClient({});
  const deps: DlqDeps = {
    now: () => new Date(),
    async open(agent, { stack, fn }) {
      const functionName = fn ?? (await stackOutput(stack, agentFunctionOutputs[agent]));
      const url = await queueUrlOf(sqs, await onFailureQueueArn(lambda, functionName));
      return { functionName, queue: new SqsDeadLetterQueue(sqs, url) };
    },
    async redeliver(redelivery: Redelivery) {
      if (redelivery.kind === 'send') {
        await sqs.send(
          new SendMessageCommand({
            QueueUrl: await queueUrlOf(sqs, redelivery.queueArn),
            MessageBody: redelivery.body,
          }),
        );
        return;
      }
      const out = await lambda.send(
        new InvokeCommand({
          FunctionName: redelivery.functionArn,
          InvocationType: 'Event',
          Payload: JSON.stringify(redelivery.payload),
        }),
      );
      if (out.StatusCode !== 202)
        throw new Error(`Lambda answered ${out.StatusCode} instead of 202 Accepted`);
    },
  };
  return {
    deps,
    close: () => {
      sqs.destroy();
      lambda.destroy();
    },
  };
}
