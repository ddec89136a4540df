/**
 * What an agent's dead-letter queue holds, and how each message is re-delivered.
 * Pure: no SDK; the adapters (dlq-aws.ts) read the queue and hand messages over.
 *
 * An agent's DLQ (infra/constructs/agent-function.ts) is at once the function's
 * asynchronous-invocation on-failure destination, the dead-letter queue of the
 * EventBridge rule targets that feed it, the place the agent puts events it
 * rejects itself, and — for perception — the redrive target of the perception queue.
 * So four shapes are found there:
 *
 * - `lambda-failure`: an asynchronous invocation that failed every attempt (or aged
 *   out). Lambda sends an invocation record `{version, timestamp, requestContext:
 *   {requestId, functionArn, condition, approximateInvokeCount}, requestPayload,
 *   responseContext: {statusCode, executedVersion, functionError}, responsePayload}`.
 *   See https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html
 *   ("Invocation record" example for an SQS destination). Re-delivered by invoking
 *   `requestContext.functionArn` asynchronously with `requestPayload` — exactly the
 *   invocation that failed.
 * - `eventbridge-target`: an event EventBridge could not deliver to a rule target.
 *   The body is the original event; message attributes RULE_ARN, TARGET_ARN,
 *   ERROR_CODE and ERROR_MESSAGE say where and why.
 *   See https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html
 *   Re-delivered to TARGET_ARN itself (a Lambda function: asynchronous invoke; an SQS
 *   queue: SendMessage) rather than PutEvents onto the bus: the target is the one
 *   delivery that failed, while PutEvents would match every rule on the bus again and
 *   deliver the event a second time to the targets that already had it.
 * - `queue-redrive`: a message SQS moved here from a source queue after
 *   maxReceiveCount receives (the perception queue); SQS marks it with the system
 *   attribute DeadLetterQueueSourceArn.
 *   See https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-dead-letter-queues.html
 *   and the attribute in https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_ReceiveMessage.html
 *   Re-delivered by SendMessage of the same body to that source queue.
 * - `rejected`: an event the agent refused as malformed (adapters/dead-letters.ts:
 *   `{reason, issues, messageId, rejectedAt, body}`). Listed with the reason and left
 *   in place: re-delivered unchanged it would be refused again.
 *
 * Anything else is `unknown`: listed with why it was not recognised, and left in place.
 */
import * as z from 'zod/mini';

/** One message as read from a dead-letter queue. */
export interface DeadLetter {
  messageId: string;
  body: string;
  /** Message attributes (string values), e.g. EventBridge's RULE_ARN, TARGET_ARN, ERROR_CODE, ERROR_MESSAGE. */
  attributes: Readonly<Record<string, string>>;
  /** SQS system attributes: SentTimestamp (epoch ms), ApproximateReceiveCount, DeadLetterQueueSourceArn. */
  system: Readonly<Record<string, string>>;
}

/** How a message is handed back: an asynchronous Lambda invocation, or a message on an SQS queue. */
export type Redelivery =
  | { kind: 'invoke'; functionArn: string; payload: unknown }
  | { kind: 'send'; queueArn: string; body: string };

export type DeadLetterShape =
  | 'lambda-failure'
  | 'eventbridge-target'
  | 'queue-redrive'
  | 'rejected'
  | 'unknown';

/** A dead letter, understood: what failed, why, and how it would be re-delivered (none: left in place). */
export interface ClassifiedDeadLetter {
  messageId: string;
  shape: DeadLetterShape;
  /** When the message entered the queue (SentTimestamp), if SQS said. */
  sentAt: Date | undefined;
  /** The failed event's detail-type, source and incident id, where it is an EventBridge event. */
  event: { detailType?: string; source?: string; incidentId?: string };
  /** The error, in one line. */
  error: string;
  redelivery?: Redelivery;
  /** Why the message is left in place (set exactly when `redelivery` is not). */
  leftBecause?: string;
}

const arn = (service: string) => z.string().check(z.startsWith(`arn:`), z.includes(`:${service}:`));

/** Lambda's asynchronous invocation record (the fields Homeostat needs; the rest is optional). */
const invocationRecordSchema = z.object({
  version: z.optional(z.string()),
  timestamp: z.optional(z.string()),
  requestContext: z.object({
    requestId: z.optional(z.string()),
    functionArn: arn('lambda'),
    condition: z.optional(z.string()),
    approximateInvokeCount: z.optional(z.number()),
  }),
  requestPayload: z.unknown(),
  responseContext: z.optional(
    z.object({ statusCode: z.optional(z.number()), functionError: z.optional(z.string()) }),
  ),
  responsePayload: z.optional(z.unknown()),
});

/** The agent's own rejection (adapters/dead-letters.ts). */
const rejectionSchema = z.object({
  reason: z.string(),
  body: z.string(),
  rejectedAt: z.optional(z.string()),
  issues: z.optional(z.array(z.string())),
});

const parseJson = (text: string): { ok: true; value: unknown } | { ok: false } => {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
};

const str = (value: unknown) => (typeof value === 'string' && value !== '' ? value : undefined);

/** detail-type, source and incident id of an EventBridge event (the homeostat envelope carries `detail.incidentId`). */
export function eventSummary(value: unknown): ClassifiedDeadLetter['event'] {
  if (!value || typeof value !== 'object') return {};
  const event = value as Record<string, unknown>;
  const detail = (event.detail && typeof event.detail === 'object' ? event.detail : {}) as Record<
    string,
    unknown
  >;
  const summary: ClassifiedDeadLetter['event'] = {};
  const detailType = str(event['detail-type']);
  const source = str(event.source);
  const incidentId = str(detail.incidentId);
  if (detailType) summary.detailType = detailType;
  if (source) summary.source = source;
  if (incidentId) summary.incidentId = incidentId;
  return summary;
}

/** Whether a value looks like an EventBridge event (has detail-type, source and detail). */
const isEvent = (value: unknown) => {
  const e = eventSummary(value);
  return Boolean(e.detailType && e.source && (value as { detail?: unknown }).detail !== undefined);
};

/** The service of an ARN (`arn:partition:service:…`), or undefined. */
const arnService = (value: string) => /^arn:[^:]+:([^:]+):/.exec(value)?.[1];

function lambdaError(record: z.infer<typeof invocationRecordSchema>): string {
  const payload = record.responsePayload as { errorType?: unknown; errorMessage?: unknown } | undefined;
  const what =
    payload && typeof payload === 'object' && (payload.errorType || payload.errorMessage)
      ? [str(payload.errorType), str(payload.errorMessage)].filter(Boolean).join(': ')
      : (record.responseContext?.functionError ?? 'no error in the record');
  const condition = record.requestContext.condition ?? 'failed';
  const attempts = record.requestContext.approximateInvokeCount;
  return `${condition}${attempts ? ` after ${attempts} attempt(s)` : ''}: ${what}`;
}

/**
 * Says what `letter` is and how it would be re-delivered (see the module comment for
 * the shapes and the AWS pages that define them). Never throws: what it cannot read
 * is `unknown`, with the reason in `leftBecause`.
 */
export function classifyDeadLetter(letter: DeadLetter): ClassifiedDeadLetter {
  const sentMs = Number(letter.system.SentTimestamp);
  const base = {
    messageId: letter.messageId,
    sentAt: Number.isFinite(sentMs) && sentMs > 0 ? new Date(sentMs) : undefined,
  };
  const json = parseJson(letter.body);
  const value = json.ok ? json.value : undefined;
  const targetArn = letter.attributes.TARGET_ARN;
  if (targetArn || letter.attributes.RULE_ARN) {
    const error = `${letter.attributes.ERROR_CODE ?? 'delivery failed'}: ${letter.attributes.ERROR_MESSAGE ?? 'no message'}`;
    const shape = { ...base, shape: 'eventbridge-target' as const, event: eventSummary(value), error };
    if (!json.ok)
      return { ...shape, leftBecause: 'the body is not JSON, so it is not the event EventBridge sent' };
    if (!targetArn) return { ...shape, leftBecause: 'EventBridge named no TARGET_ARN to re-deliver to' };
    const service = arnService(targetArn);
    if (service === 'lambda')
      return { ...shape, redelivery: { kind: 'invoke', functionArn: targetArn, payload: value } };
    if (service === 'sqs')
      return { ...shape, redelivery: { kind: 'send', queueArn: targetArn, body: letter.body } };
    return { ...shape, leftBecause: `its target ${targetArn} is neither a Lambda function nor an SQS queue` };
  }
  if (json.ok) {
    const record = invocationRecordSchema.safeParse(value);
    if (record.success && record.data.requestPayload !== undefined)
      return {
        ...base,
        shape: 'lambda-failure',
        event: eventSummary(record.data.requestPayload),
        error: lambdaError(record.data),
        redelivery: {
          kind: 'invoke',
          functionArn: record.data.requestContext.functionArn,
          payload: record.data.requestPayload,
        },
      };
  }
  const sourceQueue = letter.system.DeadLetterQueueSourceArn;
  if (sourceQueue)
    return {
      ...base,
      shape: 'queue-redrive',
      event: eventSummary(value),
      error: `received ${letter.system.ApproximateReceiveCount ?? 'too many'} time(s) from ${sourceQueue} without success`,
      redelivery: { kind: 'send', queueArn: sourceQueue, body: letter.body },
    };
  if (json.ok) {
    const rejection = rejectionSchema.safeParse(value);
    if (rejection.success) {
      const original = parseJson(rejection.data.body);
      return {
        ...base,
        shape: 'rejected',
        event: eventSummary(original.ok ? original.value : undefined),
        error: rejection.data.reason,
        leftBecause:
          'the agent rejected this event as malformed; re-delivered unchanged it would be rejected again',
      };
    }
  }
  return {
    ...base,
    shape: 'unknown',
    event: eventSummary(value),
    error: 'unrecognised message',
    leftBecause: !json.ok
      ? 'the body is not JSON'
      : isEvent(value)
        ? 'an event without EventBridge’s TARGET_ARN attribute or SQS’s DeadLetterQueueSourceArn: where it failed is unknown'
        : 'neither a Lambda invocation record, an EventBridge dead letter, a source queue’s message nor an agent’s rejection',
  };
}
