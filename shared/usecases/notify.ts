/**
 * The notify agent's use-case: every incident event re-renders the
 * incident's one narrative from the database and brings each channel up to
 * date — Slack with a bot token edits its one message in place (approval
 * links also go in a thread reply, which notifies people); a Slack incoming
 * webhook and SNS, which cannot edit, get one message per milestone
 * (opened, each approval, closed, learned). A redelivery, or an event that
 * changes nothing, sends nothing. A channel still failing after retries is
 * dead-lettered with the reason; the incident itself is never touched.
 */
import { sha256 } from '../domain/knowledge.ts';
import { type IncidentStory, type Narrative, renderNarrative } from '../domain/narrative.ts';
import type { DeadLetterSink } from '../domain/ports.ts';
import { withRetry } from '../domain/retry.ts';
import { parseBusEvent } from '../events/bus-event.ts';
import {
  type ApprovalRequestedData,
  actionExecutedDataSchema,
  approvalRequestedDataSchema,
  diagnosisCompletedDataSchema,
  incidentEscalatedDataSchema,
  incidentOpenedDataSchema,
  incidentResolvedDataSchema,
  learningRecordedDataSchema,
  remediationFailedDataSchema,
} from '../events/catalog.ts';
import { detailTypes } from '../events/detail-types.ts';

export type ChannelName = 'slack' | 'sns';

/** A delivery that failed; `retryable` for throttling, server errors and network failures. */
export class DeliveryError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
    this.name = 'DeliveryError';
  }
}

export interface NotificationChannel {
  readonly name: ChannelName;
  /** Whether a sent message can be edited (Slack with a bot token). */
  readonly canUpdate: boolean;
  /**
   * Sends a new message (ref null) or edits message `ref`; `reply` is posted
   * in its thread. Returns the message's ref (null when the channel has none).
   */
  send(
    message: { subject: string; text: string; incidentId: string | null },
    options: { ref: string | null; reply?: string },
  ): Promise<string | null>;
}

export interface SentNotification {
  messageRef: string | null;
  milestones: string[];
  digest: string;
}

export interface NotificationStore {
  story(incidentId: string): Promise<IncidentStory | null>;
  sent(incidentId: string, channel: ChannelName): Promise<SentNotification | null>;
  saveSent(incidentId: string, channel: ChannelName, sent: SentNotification): Promise<void>;
}

export interface NotifyDeps {
  store: NotificationStore;
  channels: readonly NotificationChannel[];
  deadLetters: DeadLetterSink;
  /** Model prose for closed incidents; null or a throw falls back to the template alone. */
  narrator?: (story: IncidentStory) => Promise<string | null>;
  /** Delivery attempts per channel before dead-lettering. @default 4 */
  attempts?: number;
  baseDelayMs?: number;
  log?: (message: string, detail: Record<string, unknown>) => void;
}

export type ChannelResult = 'sent' | 'updated' | 'unchanged' | 'milestone_sent' | 'dropped';

export interface NotifyResult {
  outcome: 'notified' | 'no_channels';
  incidentId: string;
  milestone: string;
  channels: Partial<Record<ChannelName, ChannelResult>>;
  narrative: 'model' | 'template';
}

const incidentEvents = {
  [detailTypes.incidentOpened]: incidentOpenedDataSchema,
  [detailTypes.diagnosisCompleted]: diagnosisCompletedDataSchema,
  [detailTypes.approvalRequested]: approvalRequestedDataSchema,
  [detailTypes.actionExecuted]: actionExecutedDataSchema,
  [detailTypes.remediationFailed]: remediationFailedDataSchema,
  [detailTypes.incidentResolved]: incidentResolvedDataSchema,
  [detailTypes.incidentEscalated]: incidentEscalatedDataSchema,
  [detailTypes.learningRecorded]: learningRecordedDataSchema,
};
/** The detail-types the notify agent answers (CDK builds its rule from these). */
export const notifiedDetailTypes = Object.keys(incidentEvents);

const closed = (s: IncidentStory) => ['resolved', 'self_resolved', 'escalated', 'failed'].includes(s.state);

export async function notifyIncident(event: unknown, deps: NotifyDeps): Promise<NotifyResult> {
  const parsed = parseBusEvent(event, incidentEvents);
  const incidentId = parsed.envelope.data.incidentId;
  const story = await deps.store.story(incidentId);
  if (!story) {
    // Not an error to retry: the incident is gone (retention) or never committed.
    await deps.deadLetters.reject({
      reason: `incident ${incidentId} does not exist: nothing to notify`,
      issues: [],
      messageId: null,
      body: JSON.stringify(event),
    });
    return { outcome: 'no_channels', incidentId, milestone: 'none', channels: {}, narrative: 'template' };
  }
  if (parsed.type === detailTypes.approvalRequested && story.state === 'awaiting_approval') {
    const a = parsed.envelope.data as ApprovalRequestedData;
    story.approval = {
      step: a.step,
      action: a.action,
      reason: a.reason,
      approveUrl: a.approveUrl,
      rejectUrl: a.rejectUrl,
      expiresAt: new Date(a.expiresAt),
    };
  }
  let prose: string | null = null;
  if (deps.narrator && closed(story)) {
    try {
      prose = await deps.narrator(story);
    } catch (error) {
      deps.log?.('model narrative unavailable; template used', { error: (error as Error).message });
    }
  }
  const narrative = renderNarrative(story, prose ?? undefined);
  const result: NotifyResult = {
    outcome: deps.channels.length > 0 ? 'notified' : 'no_channels',
    incidentId,
    milestone: narrative.milestone,
    channels: {},
    narrative: prose ? 'model' : 'template',
  };
  for (const channel of deps.channels) {
    result.channels[channel.name] = await deliver(channel, narrative, story, event, deps);
  }
  return result;
}

async function deliver(
  channel: NotificationChannel,
  narrative: Narrative,
  story: IncidentStory,
  event: unknown,
  deps: NotifyDeps,
): Promise<ChannelResult> {
  const prev = await deps.store.sent(story.incidentId, channel.name);
  const digest = sha256(narrative.text);
  if (prev?.digest === digest) return 'unchanged';
  const newMilestone = !prev?.milestones.includes(narrative.milestone);
  if (!channel.canUpdate && !newMilestone) return 'unchanged';
  const approvalReply =
    channel.canUpdate && prev?.messageRef && newMilestone && story.approval
      ? narrative.text
          .split('\n')
          .filter((l) => /^(\*Approval needed\*|Approve:|Reject:|Or: npx)/.test(l))
          .join('\n')
      : undefined;
  let ref: string | null;
  try {
    ref = await withRetry(
      () =>
        channel.send(
          { subject: narrative.headline, text: narrative.text, incidentId: story.incidentId },
          {
            ref: channel.canUpdate ? (prev?.messageRef ?? null) : null,
            ...(approvalReply ? { reply: approvalReply } : {}),
          },
        ),
      {
        attempts: deps.attempts ?? 4,
        baseDelayMs: deps.baseDelayMs ?? 250,
        retryable: (e) => !(e instanceof DeliveryError) || e.retryable,
        onRetry: (error, attempt) =>
          deps.log?.('notification failed; retrying', {
            channel: channel.name,
            attempt,
            error: (error as Error).message,
          }),
      },
    );
  } catch (error) {
    await deps.deadLetters.reject({
      reason: `${channel.name} notification dropped for incident ${story.incidentId}: ${(error as Error).message}`,
      issues: [`milestone ${narrative.milestone}`],
      messageId: null,
      body: JSON.stringify(event),
    });
    return 'dropped';
  }
  await deps.store.saveSent(story.incidentId, channel.name, {
    messageRef: ref ?? prev?.messageRef ?? null,
    milestones: newMilestone ? [...(prev?.milestones ?? []), narrative.milestone] : (prev?.milestones ?? []),
    digest,
  });
  if (!channel.canUpdate) return 'milestone_sent';
  return prev?.messageRef ? 'updated' : 'sent';
}

/** Homeostat's own alarms (DLQ not empty, agent errors, kill switch left on) go to the same channels. */
export async function notifyOwnAlarm(
  alarm: { name: string; state: string; reason: string; description: string | null },
  deps: Pick<NotifyDeps, 'channels' | 'deadLetters' | 'attempts' | 'baseDelayMs'>,
): Promise<Partial<Record<ChannelName, ChannelResult>>> {
  const subject = `[Homeostat ${alarm.state === 'ALARM' ? 'needs attention' : 'back to normal'}] ${alarm.name} is ${alarm.state}`;
  const text = [
    `*${subject}*`,
    alarm.description ?? '',
    `Reason: ${alarm.reason.replace(/[<>&]/g, ' ')}`,
    'See the Homeostat dashboard in CloudWatch.',
  ]
    .filter(Boolean)
    .join('\n');
  const results: Partial<Record<ChannelName, ChannelResult>> = {};
  for (const channel of deps.channels) {
    try {
      await withRetry(() => channel.send({ subject, text, incidentId: null }, { ref: null }), {
        attempts: deps.attempts ?? 4,
        baseDelayMs: deps.baseDelayMs ?? 250,
        retryable: (e) => !(e instanceof DeliveryError) || e.retryable,
      });
      results[channel.name] = 'sent';
    } catch (error) {
      await deps.deadLetters.reject({
        reason: `${channel.name} alarm notification dropped: ${(error as Error).message}`,
        issues: [],
        messageId: null,
        body: JSON.stringify(alarm),
      });
      results[channel.name] = 'dropped';
    }
  }
  return results;
}
