import { describe, expect, it } from 'vitest';
import { classifyDeadLetter, type DeadLetter } from './dead-letter-shapes.ts';
import { formatAge, formatDeadLetter } from './dlq.ts';

const functionArn = 'arn:aws:lambda:us-east-1:123456789012:function:Homeostat-Diagnosis:$LATEST';
const event = {
  version: '0',
  id: 'ev-1',
  'detail-type': 'incident.opened',
  source: 'homeostat.perceive',
  account: '123456789012',
  time: '2026-11-30T10:00:00Z',
  region: 'us-east-1',
  resources: [],
  detail: { id: 'env-1', type: 'incident.opened', incidentId: 'inc-42', data: {} },
};

/** The invocation record of https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html */
const invocationRecord = {
  version: '1.0',
  timestamp: '2026-11-30T10:05:00.000Z',
  requestContext: {
    requestId: 'e4b46cbf-b738-xmpl-8880-a18cdf61200e',
    functionArn,
    condition: 'RetriesExhausted',
    approximateInvokeCount: 3,
  },
  requestPayload: event,
  responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
  responsePayload: { errorType: 'DependencyUnavailableError', errorMessage: 'database unavailable: timeout' },
};

const letter = (body: unknown, more: Partial<DeadLetter> = {}): DeadLetter => ({
  messageId: 'm-1',
  body: typeof body === 'string' ? body : JSON.stringify(body),
  attributes: {},
  system: { SentTimestamp: String(Date.parse('2026-11-30T10:05:01Z')) },
  ...more,
});

describe('classifyDeadLetter', () => {
  it('reads a Lambda asynchronous invocation record and re-invokes the function with its payload', () => {
    const c = classifyDeadLetter(letter(invocationRecord));
    expect(c).toMatchObject({
      shape: 'lambda-failure',
      event: { detailType: 'incident.opened', source: 'homeostat.perceive', incidentId: 'inc-42' },
      error: 'RetriesExhausted after 3 attempt(s): DependencyUnavailableError: database unavailable: timeout',
      redelivery: { kind: 'invoke', functionArn, payload: event },
    });
    expect(c.sentAt?.toISOString()).toBe('2026-11-30T10:05:01.000Z');
    expect(c.leftBecause).toBeUndefined();
  });

  it('reads the minimal record (only requestContext.functionArn and requestPayload)', () => {
    const c = classifyDeadLetter(
      letter({ requestContext: { functionArn, condition: 'EventAgeExceeded' }, requestPayload: { a: 1 } }),
    );
    expect(c).toMatchObject({ shape: 'lambda-failure', error: 'EventAgeExceeded: no error in the record' });
  });

  it('reads an EventBridge target dead letter and re-delivers to the target: a function or a queue', () => {
    const attributes = {
      RULE_ARN: 'arn:aws:events:us-east-1:123456789012:rule/homeostat/diagnose',
      TARGET_ARN: 'arn:aws:lambda:us-east-1:123456789012:function:Homeostat-Diagnosis',
      ERROR_CODE: 'SDK_CLIENT_ERROR',
      ERROR_MESSAGE: 'Unable to invoke Lambda function',
    };
    expect(classifyDeadLetter(letter(event, { attributes }))).toMatchObject({
      shape: 'eventbridge-target',
      event: { detailType: 'incident.opened', incidentId: 'inc-42' },
      error: 'SDK_CLIENT_ERROR: Unable to invoke Lambda function',
      redelivery: { kind: 'invoke', functionArn: attributes.TARGET_ARN, payload: event },
    });
    const queueArn = 'arn:aws:sqs:us-east-1:123456789012:Homeostat-PerceptionQueue';
    expect(
      classifyDeadLetter(letter(event, { attributes: { ...attributes, TARGET_ARN: queueArn } })),
    ).toMatchObject({
      redelivery: { kind: 'send', queueArn, body: JSON.stringify(event) },
    });
    expect(
      classifyDeadLetter(
        letter(event, { attributes: { ...attributes, TARGET_ARN: 'arn:aws:sns:us-east-1:1:t' } }),
      ),
    ).toMatchObject({ shape: 'eventbridge-target', leftBecause: expect.stringContaining('neither') });
    expect(classifyDeadLetter(letter('not json', { attributes })).redelivery).toBeUndefined();
  });

  it('sends a message SQS moved from a source queue back to that queue', () => {
    const source = 'arn:aws:sqs:us-east-1:123456789012:Homeostat-PerceptionQueue';
    const c = classifyDeadLetter(
      letter(event, { system: { DeadLetterQueueSourceArn: source, ApproximateReceiveCount: '3' } }),
    );
    expect(c).toMatchObject({
      shape: 'queue-redrive',
      error: `received 3 time(s) from ${source} without success`,
      redelivery: { kind: 'send', queueArn: source, body: JSON.stringify(event) },
    });
    expect(c.sentAt).toBeUndefined();
  });

  it("lists the agent's own rejections with the reason and leaves them", () => {
    const c = classifyDeadLetter(
      letter(
        {
          reason: 'invalid incident.opened',
          issues: ['detail.incidentId: required'],
          body: JSON.stringify(event),
        },
        { attributes: { reason: 'invalid incident.opened' } },
      ),
    );
    expect(c).toMatchObject({
      shape: 'rejected',
      error: 'invalid incident.opened',
      event: { incidentId: 'inc-42' },
    });
    expect(c.redelivery).toBeUndefined();
    expect(c.leftBecause).toMatch(/rejected again/);
  });

  it.each([
    ['not json {', 'the body is not JSON'],
    [{ hello: 'world' }, 'neither a Lambda invocation record'],
    [event, 'where it failed is unknown'],
    [
      { requestContext: { functionArn: 'not-an-arn' }, requestPayload: {} },
      'neither a Lambda invocation record',
    ],
  ])('leaves an unknown shape in place with the reason (%j)', (body, why) => {
    const c = classifyDeadLetter(letter(body));
    expect(c.shape).toBe('unknown');
    expect(c.redelivery).toBeUndefined();
    expect(c.leftBecause).toContain(why);
  });
});

describe('dlq formatting', () => {
  it('formats ages and one message per three lines', () => {
    const now = new Date('2026-11-30T12:00:00Z');
    expect(formatAge(new Date('2026-11-30T11:59:15Z'), now)).toBe('45s');
    expect(formatAge(new Date('2026-11-30T11:48:00Z'), now)).toBe('12m');
    expect(formatAge(new Date('2026-11-30T08:55:00Z'), now)).toBe('3h05m');
    expect(formatAge(new Date('2026-11-28T08:00:00Z'), now)).toBe('2d4h');
    expect(formatAge(undefined, now)).toBe('age unknown');
    const lines = formatDeadLetter(1, classifyDeadLetter(letter(invocationRecord)), now);
    expect(lines).toHaveLength(3);
    expect(lines[0]).toContain('lambda-failure  incident.opened from homeostat.perceive  incident inc-42');
    expect(lines[2]).toContain(`redrive: invoke ${functionArn} asynchronously`);
  });
});
