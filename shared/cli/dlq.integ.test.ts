import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CreateFunctionCommand,
  DeleteFunctionCommand,
  GetFunctionCommand,
  LambdaClient,
  PutFunctionEventInvokeConfigCommand,
} from '@aws-sdk/client-lambda';
import {
  CreateQueueCommand,
  DeleteQueueCommand,
  GetQueueAttributesCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emulatorClientConfig, emulatorEndpoint, uniqueName } from '../../localstack/testing.ts';
import { runHomeostat } from '../testing/cli-process.ts';

/**
 * `homeostat dlq` as a process against the emulator: a real SQS dead-letter queue,
 * the on-failure destination of a real Lambda function (which appends each event it
 * receives to a file, so re-delivery is observed where it lands). The queue holds one
 * Lambda invocation record, one EventBridge target dead letter and one malformed message.
 */
describe('homeostat dlq (process, emulator)', () => {
  const name = uniqueName('dlq');
  const dir = mkdtempSync(join(tmpdir(), 'homeostat-dlq-'));
  const received = join(dir, 'received.jsonl');
  const sqs = new SQSClient(emulatorClientConfig());
  const lambda = new LambdaClient(emulatorClientConfig());
  let queueUrl: string;
  let functionArn: string;

  const event = (id: string, incidentId: string) => ({
    version: '0',
    id,
    'detail-type': 'incident.opened',
    source: 'homeostat.perceive',
    account: '000000000000',
    time: '2026-11-30T10:00:00Z',
    region: 'us-east-1',
    resources: [],
    detail: { id: `env-${id}`, type: 'incident.opened', incidentId, data: {} },
  });

  const cli = (args: string[], pick: string[] = ['--function', name]) =>
    runHomeostat(['dlq', ...args, ...pick], {
      PATH: process.env.PATH,
      HOME: dir,
      AWS_ENDPOINT_URL: emulatorEndpoint(),
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
    });

  const depth = async () => {
    const { Attributes: a = {} } = await sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: queueUrl,
        AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
      }),
    );
    return Number(a.ApproximateNumberOfMessages) + Number(a.ApproximateNumberOfMessagesNotVisible);
  };

  const receivedIds = () =>
    existsSync(received)
      ? readFileSync(received, 'utf8')
          .trim()
          .split('\n')
          .map((line) => (JSON.parse(line) as { id: string }).id)
          .sort()
      : [];

  beforeAll(async () => {
    queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: `${name}-dlq` }))).QueueUrl as string;
    const { Attributes } = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }),
    );
    writeFileSync(
      join(dir, 'index.mjs'),
      `import { appendFileSync } from 'node:fs';
export const handler = async (event) => { appendFileSync(process.env.RECEIVED, JSON.stringify(event) + '\\n'); return 'ok'; };
`,
    );
    execFileSync('zip', ['-q', 'code.zip', 'index.mjs'], { cwd: dir });
    await lambda.send(
      new CreateFunctionCommand({
        FunctionName: name,
        Runtime: 'nodejs22.x',
        Handler: 'index.handler',
        Role: 'arn:aws:iam::000000000000:role/homeostat-test',
        Code: { ZipFile: readFileSync(join(dir, 'code.zip')) },
        Environment: { Variables: { RECEIVED: received } },
      }),
    );
    functionArn = (await lambda.send(new GetFunctionCommand({ FunctionName: name }))).Configuration
      ?.FunctionArn as string;
    await lambda.send(
      new PutFunctionEventInvokeConfigCommand({
        FunctionName: name,
        MaximumRetryAttempts: 0,
        DestinationConfig: { OnFailure: { Destination: Attributes?.QueueArn } },
      }),
    );
    // (a) Lambda's asynchronous invocation record, as AWS documents it.
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: queueUrl,
        MessageBody: JSON.stringify({
          version: '1.0',
          timestamp: '2026-11-30T10:05:00.000Z',
          requestContext: {
            requestId: 'req-1',
            functionArn: `${functionArn}:$LATEST`,
            condition: 'RetriesExhausted',
            approximateInvokeCount: 3,
          },
          requestPayload: event('ev-a', 'inc-a'),
          responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'Unhandled' },
          responsePayload: { errorType: 'DependencyUnavailableError', errorMessage: 'database unavailable' },
        }),
      }),
    );
    // (b) An EventBridge rule target's dead letter: the event, and where and why in attributes.
    const attribute = (value: string) => ({ DataType: 'String', StringValue: value });
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: queueUrl,
        MessageBody: JSON.stringify(event('ev-b', 'inc-b')),
        MessageAttributes: {
          RULE_ARN: attribute('arn:aws:events:us-east-1:000000000000:rule/homeostat/test'),
          TARGET_ARN: attribute(functionArn),
          ERROR_CODE: attribute('SDK_CLIENT_ERROR'),
          ERROR_MESSAGE: attribute('Unable to invoke Lambda function'),
        },
      }),
    );
    // (c) Malformed.
    await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'not json {' }));
  });

  afterAll(async () => {
    await lambda.send(new DeleteFunctionCommand({ FunctionName: name })).catch(() => undefined);
    await sqs.send(new DeleteQueueCommand({ QueueUrl: queueUrl })).catch(() => undefined);
    sqs.destroy();
    lambda.destroy();
  });

  it('lists the three messages with their shape, event and error, and consumes none', async () => {
    const out = await cli(['list', 'diagnose', '--json']);
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    const listed = JSON.parse(out.stdout) as {
      queueUrl: string;
      visible: number;
      messages: Array<{ shape: string; event: { incidentId?: string }; error: string; leftBecause?: string }>;
    };
    expect(listed.visible).toBe(3);
    const byShape = Object.fromEntries(listed.messages.map((m) => [m.shape, m]));
    expect(Object.keys(byShape).sort()).toEqual(['eventbridge-target', 'lambda-failure', 'unknown']);
    expect(byShape['lambda-failure']).toMatchObject({
      event: { incidentId: 'inc-a' },
      error: 'RetriesExhausted after 3 attempt(s): DependencyUnavailableError: database unavailable',
    });
    expect(byShape['eventbridge-target']).toMatchObject({
      event: { incidentId: 'inc-b' },
      error: 'SDK_CLIENT_ERROR: Unable to invoke Lambda function',
    });
    expect(byShape.unknown?.leftBecause).toBe('the body is not JSON');
    // Released at once: a second listing sees all three again, and the human form says so too.
    const text = await cli(['list', 'diagnose']);
    expect(text.stdout).toContain(': 3 waiting, 0 in flight');
    expect(text.stdout).toContain('incident inc-a');
    expect(await depth()).toBe(3);
  });

  it('a dry run re-delivers nothing and keeps every message', async () => {
    const out = await cli(['redrive', 'diagnose', '--dry-run']);
    expect(out.code).toBe(0);
    expect(out.stdout).toContain('dry run: 2 would be re-delivered, 1 left in place');
    expect(await depth()).toBe(3);
    expect(receivedIds()).toEqual([]);
  });

  it('re-delivers the two known shapes to the function, deletes them, and leaves the malformed one', async () => {
    const out = await cli(['redrive', 'diagnose']);
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    expect(out.stdout).toContain('2 re-delivered, 1 left in place, 0 failed');
    const deadline = Date.now() + 20_000;
    while (receivedIds().length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    expect(receivedIds()).toEqual(['ev-a', 'ev-b']);
    expect(await depth()).toBe(1);
    // Again: nothing is delivered twice; the malformed message stays, with its reason.
    const again = await cli(['redrive', 'diagnose', '--json']);
    expect(JSON.parse(again.stdout).results).toEqual([
      expect.objectContaining({ shape: 'unknown', outcome: 'left', detail: 'the body is not JSON' }),
    ]);
    await new Promise((r) => setTimeout(r, 1000));
    expect(receivedIds()).toEqual(['ev-a', 'ev-b']);
    expect(await depth()).toBe(1);
  });

  it('keeps a message whose hand-over fails, and exits 1', async () => {
    // The agent's own function, under a version that does not exist: Lambda refuses the invoke.
    const gone = `${functionArn}:no-such-alias`;
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: queueUrl,
        MessageBody: JSON.stringify({
          requestContext: { functionArn: gone },
          requestPayload: event('ev-c', 'inc-c'),
        }),
      }),
    );
    const out = await cli(['redrive', 'diagnose']);
    expect(out.code).toBe(1);
    expect(out.stdout).toContain('0 re-delivered, 1 left in place, 1 failed');
    expect(out.stdout).toMatch(/failed\s+\S+\s+lambda-failure: invoke .*:no-such-alias asynchronously: /);
    expect(await depth()).toBe(2);
    expect(receivedIds()).toEqual(['ev-a', 'ev-b']);
  });

  it('never invokes a function other than the agent’s own, whatever a dead letter names', async () => {
    const other = functionArn.replace(`:function:${name}`, `:function:${name}-other`);
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: queueUrl,
        MessageBody: JSON.stringify({
          requestContext: { functionArn: other },
          requestPayload: event('ev-d', 'inc-d'),
        }),
      }),
    );
    const out = await cli(['redrive', 'diagnose']);
    expect(out.stdout).toContain(`it names ${other}, not this agent's function`);
    expect(await depth()).toBe(3);
    expect(receivedIds()).toEqual(['ev-a', 'ev-b']);
  });

  it('says in one sentence when the stack is not deployed', async () => {
    const out = await cli(['list', 'diagnose'], ['--stack', `${name}-missing`]);
    expect(out.code).toBe(1);
    expect(out.stderr).toBe(
      `Stack ${name}-missing not found in us-east-1: deploy it or pass --stack NAME (or set HOMEOSTAT_STACK).\n`,
    );
  });

  it('says when the function has no dead-letter queue to read', async () => {
    const out = await cli(['list', 'diagnose'], ['--function', `${name}-missing`]);
    expect(out.code).toBe(1);
    expect(out.stderr).toBe(
      `Error: function ${name}-missing not found, or it has no asynchronous invocation settings\n`,
    );
  });

  it('names an unknown agent as a usage mistake', async () => {
    const out = await cli(['list', 'nobody']);
    expect(out.code).toBe(2);
    expect(out.stderr).toContain('unknown agent nobody');
  });
});
