import { randomUUID } from 'node:crypto';
import { CreateTopicCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  emulatorClientConfig,
  startMigratedDatabase,
  type TestDatabase,
  uniqueName,
} from '../../localstack/testing.ts';
import { SqsDeadLetters } from '../adapters/dead-letters.ts';
import {
  SlackBotChannel,
  SlackWebhookChannel,
  SnsChannel,
  slackChannelFromSecret,
} from '../adapters/notification-channels.ts';
import { PostgresNotificationStore } from '../adapters/notification-store.ts';
import { ConfigurationError } from '../domain/errors.ts';
import { detailTypes } from '../events/detail-types.ts';
import { buildEnvelope } from '../events/envelope.ts';
import { startFakeSlack } from '../testing/fake-slack.ts';
import { asBusEvent, seedIncident } from '../testing/incidents.ts';
import { type NotificationChannel, type NotifyDeps, notifyIncident } from './notify.ts';

/**
 * The notify agent on real parts: PGlite for the story and what was sent, the emulator's SNS
 * (delivering to an SQS queue we read) and SQS dead-letter queue, and a local HTTP endpoint
 * standing in for Slack that records every call.
 */
describe('notify agent', () => {
  let database: TestDatabase;
  let store: PostgresNotificationStore;
  let slack: Awaited<ReturnType<typeof startFakeSlack>>;
  const config = emulatorClientConfig();
  const sns = new SNSClient(config);
  const sqs = new SQSClient(config);
  const cluster = uniqueName('notify');
  let topicArn: string;
  let inboxUrl: string;
  let dlqUrl: string;

  beforeAll(async () => {
    database = await startMigratedDatabase();
    store = new PostgresNotificationStore(database.pool);
    slack = await startFakeSlack();
    topicArn = (await sns.send(new CreateTopicCommand({ Name: uniqueName('notify') }))).TopicArn as string;
    inboxUrl = (await sqs.send(new CreateQueueCommand({ QueueName: uniqueName('inbox') })))
      .QueueUrl as string;
    dlqUrl = (await sqs.send(new CreateQueueCommand({ QueueName: uniqueName('notify-dlq') })))
      .QueueUrl as string;
    const attrs = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: inboxUrl, AttributeNames: ['QueueArn'] }),
    );
    await sns.send(
      new SubscribeCommand({
        TopicArn: topicArn,
        Protocol: 'sqs',
        Endpoint: attrs.Attributes?.QueueArn,
        Attributes: { RawMessageDelivery: 'true' },
      }),
    );
  });
  afterAll(async () => {
    await slack?.close();
    await database?.stop();
  });

  const deps = (channels: NotificationChannel[]): NotifyDeps => ({
    store,
    channels,
    deadLetters: new SqsDeadLetters(sqs, dlqUrl),
    attempts: 3,
    baseDelayMs: 1,
  });

  const ev = (type: string, incidentId: string, service: string, data: Record<string, unknown> = {}) =>
    asBusEvent(
      buildEnvelope({
        type,
        source: 'homeostat.test',
        time: new Date(),
        incidentId,
        causationId: randomUUID(),
        data: { incidentId, service: { cluster, service }, ...data },
      }),
    );
  const opened = (id: string, service: string) =>
    ev(detailTypes.incidentOpened, id, service, {
      title: 't',
      fingerprint: 'f',
      firstSignalId: 's1',
      openedAt: new Date().toISOString(),
      chaosExperimentId: null,
      serviceSnapshot: null,
    });
  const approval = (id: string, service: string) =>
    ev(detailTypes.approvalRequested, id, service, {
      step: 1,
      action: 'restart_service',
      parameters: {},
      reason: 'the runbook for crash loops says restart',
      token: 'tok',
      expiresAt: new Date(Date.now() + 3_600_000).toISOString(),
      approveUrl: 'https://approve.example/?token=tok&decision=approve',
      rejectUrl: 'https://approve.example/?token=tok&decision=reject',
    });
  const resolved = (id: string, service: string) =>
    ev(detailTypes.incidentResolved, id, service, {
      resolution: 'resolved',
      resolvedAt: new Date().toISOString(),
      openedAt: new Date().toISOString(),
    });

  /** Walks one incident open → awaiting approval → resolved, notifying at each step. */
  async function walk(service: string, channels: NotificationChannel[]) {
    const id = await seedIncident(database.pool, {
      cluster,
      service,
      state: 'diagnosing',
      openedAt: new Date(Date.now() - 120_000),
      rootCause: 'crash_loop',
      tokens: { input: 900, output: 100 },
      costUsd: 0.004,
    });
    const results = [await notifyIncident(opened(id, service), deps(channels))];
    await database.pool.query(`UPDATE incidents SET state = 'awaiting_approval' WHERE id = $1`, [id]);
    await database.pool.query(
      `INSERT INTO remediation_steps (idempotency_key, incident_id, step, cluster, service, fingerprint, action, mode, status, policy_version)
       VALUES ($1 || ':1', $1::uuid, 1, $2, $3, 'f', 'restart_service', 'approve', 'awaiting_approval', 'v')`,
      [id, cluster, service],
    );
    results.push(await notifyIncident(approval(id, service), deps(channels)));
    await database.pool.query(`UPDATE incidents SET state = 'resolved', closed_at = now() WHERE id = $1`, [
      id,
    ]);
    await database.pool.query(`UPDATE remediation_steps SET status = 'resolved' WHERE incident_id = $1`, [
      id,
    ]);
    results.push(await notifyIncident(resolved(id, service), deps(channels)));
    results.push(await notifyIncident(resolved(id, service), deps(channels)));
    return { id, results };
  }

  it('Slack with a bot token: one message per incident, edited in place; approval links in a thread reply', async () => {
    const before = slack.calls.length;
    const bot = new SlackBotChannel('xoxb-test', 'C0OPS', slack.apiUrl);
    const { id, results } = await walk('api', [bot]);
    expect(results.map((r) => r.channels.slack)).toEqual(['sent', 'updated', 'updated', 'unchanged']);
    const calls = slack.calls.slice(before);
    expect(calls.map((c) => c.path)).toEqual([
      '/api/chat.postMessage',
      '/api/chat.update',
      '/api/chat.postMessage',
      '/api/chat.update',
    ]);
    expect(calls.every((c) => c.authorization === 'Bearer xoxb-test')).toBe(true);
    const ts = calls[0]?.body.ts ?? null;
    expect(ts).toBeNull();
    const root = (await store.sent(id, 'slack'))?.messageRef;
    expect(calls[1]?.body.ts).toBe(root);
    expect(calls[2]?.body).toMatchObject({ thread_ts: root });
    expect(String(calls[2]?.body.text)).toContain(
      'Approve: https://approve.example/?token=tok&decision=approve',
    );
    const last = String(calls[3]?.body.text);
    expect(last).toContain('[resolved]');
    expect(last).toContain('1. ran restart_service: fixed it');
    expect(last).toContain('1000 tokens (900 in, 100 out), $0.0040');
  });

  it('a Slack webhook and SNS, which cannot edit, get one message per milestone', async () => {
    const before = slack.calls.length;
    const { results } = await walk('cart', [
      new SlackWebhookChannel(slack.webhookUrl),
      new SnsChannel(sns, topicArn),
    ]);
    expect(results.map((r) => r.milestone)).toEqual(['opened', 'approval:1', 'closed', 'closed']);
    expect(results.map((r) => r.channels.sns)).toEqual([
      'milestone_sent',
      'milestone_sent',
      'milestone_sent',
      'unchanged',
    ]);
    expect(slack.calls.slice(before).map((c) => c.path)).toEqual(Array(3).fill('/services/T000/B000/XXXX'));
    const received = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: inboxUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
    );
    const bodies = (received.Messages ?? []).map((m) => m.Body ?? '');
    expect(bodies).toHaveLength(3);
    expect(bodies[1]).toContain('Approve: https://approve.example/');
    expect(bodies[2]).toContain('[resolved] ');
  });

  it('Slack down: retried, then dropped to the DLQ with the reason; SNS still told; the incident untouched', async () => {
    slack.failWith(503);
    try {
      const before = slack.calls.length;
      const id = await seedIncident(database.pool, {
        cluster,
        service: 'search',
        state: 'escalated',
        openedAt: new Date(Date.now() - 60_000),
        closedAfterMs: 30_000,
      });
      const snapshot = await database.pool.query(
        'SELECT state, version, closed_at FROM incidents WHERE id = $1',
        [id],
      );
      const result = await notifyIncident(
        ev(detailTypes.incidentEscalated, id, 'search', { reason: 'no candidate' }),
        deps([new SlackWebhookChannel(slack.webhookUrl), new SnsChannel(sns, topicArn)]),
      );
      expect(result.channels).toEqual({ slack: 'dropped', sns: 'milestone_sent' });
      expect(slack.calls.length - before).toBe(3);
      const dead = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: dlqUrl,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: 1,
          MessageAttributeNames: ['All'],
        }),
      );
      const text = JSON.stringify(dead.Messages ?? []);
      expect(text).toContain(`slack notification dropped for incident ${id}: HTTP 503`);
      expect(
        (await database.pool.query('SELECT state, version, closed_at FROM incidents WHERE id = $1', [id]))
          .rows,
      ).toEqual(snapshot.rows);
      // Nothing recorded as sent: the next event tries Slack again.
      expect(await store.sent(id, 'slack')).toBeNull();
    } finally {
      slack.failWith(null);
    }
  });

  it('a Slack error that retrying cannot fix is not retried', async () => {
    slack.failWith(404);
    try {
      const before = slack.calls.length;
      const id = await seedIncident(database.pool, {
        cluster,
        service: 'pay',
        state: 'open',
        openedAt: new Date(),
      });
      const result = await notifyIncident(
        opened(id, 'pay'),
        deps([new SlackWebhookChannel(slack.webhookUrl)]),
      );
      expect(result.channels.slack).toBe('dropped');
      expect(slack.calls.length - before).toBe(1);
    } finally {
      slack.failWith(null);
    }
  });

  it('reads the Slack channel from its secret, and refuses a secret it cannot use', () => {
    expect(slackChannelFromSecret('https://hooks.slack.com/services/x')).toBeInstanceOf(SlackWebhookChannel);
    expect(slackChannelFromSecret('{"webhookUrl":"https://hooks.slack.com/services/x"}')).toBeInstanceOf(
      SlackWebhookChannel,
    );
    expect(slackChannelFromSecret('{"botToken":"xoxb-1","channel":"C1"}')).toBeInstanceOf(SlackBotChannel);
    expect(() => slackChannelFromSecret('{"token":"x"}')).toThrow(ConfigurationError);
    expect(() => slackChannelFromSecret('not json')).toThrow(ConfigurationError);
  });
});
