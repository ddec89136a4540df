/**
 * Where notifications go: Slack (an incoming webhook, or the Web API with a
 * bot token so one message per incident is edited in place) and an SNS topic.
 */
import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import * as z from 'zod/mini';
import { ConfigurationError } from '../domain/errors.ts';
import { DeliveryError, type NotificationChannel } from '../usecases/notify.ts';

const timeoutMs = 5000;

async function post(url: string, body: unknown, headers: Record<string, string> = {}) {
  let response: Response;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    throw new DeliveryError(`cannot reach ${new URL(url).host}: ${(error as Error).message}`, true);
  }
  const text = await response.text();
  if (response.status === 429 || response.status >= 500)
    throw new DeliveryError(`HTTP ${response.status}: ${text.slice(0, 200)}`, true);
  if (response.status >= 400)
    throw new DeliveryError(`HTTP ${response.status}: ${text.slice(0, 200)}`, false);
  return text;
}

/** A Slack incoming webhook: posts only (it cannot edit a message). */
export class SlackWebhookChannel implements NotificationChannel {
  readonly name = 'slack' as const;
  readonly canUpdate = false;
  constructor(private readonly url: string) {}

  async send(message: { text: string }) {
    await post(this.url, { text: message.text, unfurl_links: false });
    return null;
  }
}

/** Slack's Web API with a bot token: chat.postMessage once, chat.update after, replies in the thread. */
export class SlackBotChannel implements NotificationChannel {
  readonly name = 'slack' as const;
  readonly canUpdate = true;
  constructor(
    private readonly token: string,
    private readonly channel: string,
    private readonly apiUrl = 'https://slack.com/api',
  ) {}

  private async call(method: string, body: Record<string, unknown>): Promise<{ ts?: string }> {
    const text = await post(`${this.apiUrl}/${method}`, body, { authorization: `Bearer ${this.token}` });
    let reply: { ok?: boolean; error?: string; ts?: string };
    try {
      reply = JSON.parse(text);
    } catch {
      throw new DeliveryError(`${method}: not a Slack API answer`, true);
    }
    if (!reply.ok)
      throw new DeliveryError(`${method}: ${reply.error ?? 'failed'}`, reply.error === 'ratelimited');
    return reply;
  }

  async send(message: { text: string }, options: { ref: string | null; reply?: string }) {
    const common = { channel: this.channel, text: message.text, unfurl_links: false };
    if (!options.ref) {
      const { ts } = await this.call('chat.postMessage', common);
      return ts ?? null;
    }
    await this.call('chat.update', { ...common, ts: options.ref });
    if (options.reply)
      await this.call('chat.postMessage', { ...common, text: options.reply, thread_ts: options.ref });
    return options.ref;
  }
}

const slackSecretSchema = z.union([
  z.object({ webhookUrl: z.url() }),
  z.object({
    botToken: z.string().check(z.minLength(1)),
    channel: z.string().check(z.minLength(1)),
    apiUrl: z.optional(z.url()),
  }),
]);

/** The Slack channel a secret describes: a webhook URL (plain or {"webhookUrl"}), or {"botToken", "channel"}. */
export function slackChannelFromSecret(secret: string): NotificationChannel {
  const trimmed = secret.trim();
  if (/^https?:\/\//.test(trimmed)) return new SlackWebhookChannel(trimmed);
  let value: unknown;
  try {
    value = JSON.parse(trimmed);
  } catch {
    throw new ConfigurationError('the Slack secret must be a webhook URL or JSON');
  }
  const parsed = slackSecretSchema.safeParse(value);
  if (!parsed.success)
    throw new ConfigurationError('the Slack secret must hold {"webhookUrl"} or {"botToken", "channel"}');
  const s = parsed.data;
  return 'webhookUrl' in s
    ? new SlackWebhookChannel(s.webhookUrl)
    : new SlackBotChannel(s.botToken, s.channel, s.apiUrl);
}

/** An SNS topic (e-mail, chat bridges, paging): one message per milestone. */
export class SnsChannel implements NotificationChannel {
  readonly name = 'sns' as const;
  readonly canUpdate = false;
  constructor(
    private readonly client: SNSClient,
    private readonly topicArn: string,
  ) {}

  async send(message: { subject: string; text: string; incidentId: string | null }) {
    try {
      const out = await this.client.send(
        new PublishCommand({
          TopicArn: this.topicArn,
          // SNS subjects: ≤ 100 ASCII characters, no line breaks.
          Subject: message.subject.replace(/[^\x20-\x7e]/g, ' ').slice(0, 100),
          Message: message.text.replace(/\*/g, ''),
          MessageAttributes: message.incidentId
            ? { incidentId: { DataType: 'String', StringValue: message.incidentId } }
            : undefined,
        }),
      );
      return out.MessageId ?? null;
    } catch (error) {
      const e = error as { name?: string; $retryable?: unknown; $metadata?: { httpStatusCode?: number } };
      const status = e.$metadata?.httpStatusCode ?? 0;
      throw new DeliveryError(
        `SNS: ${e.name ?? 'error'}: ${(error as Error).message}`,
        status === 0 || status >= 500 || Boolean(e.$retryable),
      );
    }
  }
}
