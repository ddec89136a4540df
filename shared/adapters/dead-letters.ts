import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { DeadLetterSink, RejectedEvent } from '../domain/ports.ts';
import { clientDefaults } from './aws-clients.ts';

export function createSqsClient(): SQSClient {
  return new SQSClient(clientDefaults);
}

/** SQS message bodies are at most 256 KiB; the reason and ids always fit, the body is cut if it must. */
const maxBodyChars = 200_000;

/**
 * Rejected events go to the agent's dead-letter queue as
 * `{ reason, issues, messageId, rejectedAt, body }`, with the reason also as a
 * message attribute, so an operator can read why and redrive after a fix.
 */
export class SqsDeadLetters implements DeadLetterSink {
  constructor(
    private readonly client: SQSClient,
    private readonly queueUrl: string,
  ) {}

  async reject(rejected: RejectedEvent): Promise<void> {
    const body =
      rejected.body.length > maxBodyChars
        ? `${rejected.body.slice(0, maxBodyChars)}…[truncated]`
        : rejected.body;
    await this.client.send(
      new SendMessageCommand({
        QueueUrl: this.queueUrl,
        MessageBody: JSON.stringify({ ...rejected, body, rejectedAt: new Date().toISOString() }),
        MessageAttributes: {
          reason: { DataType: 'String', StringValue: rejected.reason.slice(0, 1024) },
        },
      }),
    );
  }
}
