import * as z from 'zod/mini';
import { ConfigurationError } from '../domain/errors.ts';
import type { LearningSettings } from '../domain/learning.ts';
import { describeIssues } from '../events/zod.ts';

/**
 * How Homeostat learns and whom it tells: CDK context `homeostat:learning`
 * (every field optional), validated at synth and written by the deploy to the
 * SSM parameter `/homeostat/<busName>/settings/learning`, which the learn and
 * notify agents read (cached 60 s) and validate again with this schema.
 */
export const learningConfigSchema = z.object({
  /** The same fingerprint closing this many times on a service within `recurrenceWindowDays` is a pattern to fix. */
  recurrenceCount: z._default(z.int().check(z.gte(2)), 3),
  recurrenceWindowDays: z._default(z.number().check(z.positive()), 7),
  /** Right answers in a row before promoting an action's autonomy is recommended. */
  promotionStreak: z._default(z.int().check(z.positive()), 5),
  /** Past incidents closer than this cosine distance are linked similar_to. */
  similarDistance: z._default(z.number().check(z.gt(0), z.lte(2)), 0.35),
  /**
   * A Bedrock model id (or inference profile) that writes the opening prose of closed incidents'
   * notifications; null: the template alone (it is also the fallback when the model fails).
   */
  narrativeModel: z._default(z.nullable(z.string().check(z.minLength(1))), null),
});

export type LearningConfig = z.infer<typeof learningConfigSchema>;

/** Validates learning settings; throws a ConfigurationError naming `where` and every problem by field. */
export function parseLearningConfig(value: unknown, where = 'learning settings'): LearningConfig {
  const parsed = learningConfigSchema.safeParse(value ?? {});
  if (!parsed.success) throw new ConfigurationError(`${where}: ${describeIssues(parsed.error).join('; ')}`);
  return parsed.data;
}

export function learningSettings(config: LearningConfig): LearningSettings {
  return {
    recurrence: { count: config.recurrenceCount, windowDays: config.recurrenceWindowDays },
    promotionStreak: config.promotionStreak,
    similarDistance: config.similarDistance,
  };
}

/**
 * Where Homeostat reports and when it alarms about itself: CDK context
 * `homeostat:notifications` (every field optional).
 */
export const notificationConfigSchema = z.object({
  /**
   * An existing Secrets Manager secret (ARN or name) holding a Slack incoming-webhook URL, or
   * {"webhookUrl"} or {"botToken", "channel"} (one message per incident, edited in place). Unset: no Slack.
   */
  slackSecret: z.optional(z.string().check(z.minLength(1))),
  /** E-mail addresses subscribed to the SNS topic (each confirms by mail). */
  emails: z._default(z.array(z.email()), []),
  /** Minutes between heartbeats (gauges: open incidents, pending approvals, kill switch). */
  heartbeatMinutes: z._default(z.int().check(z.gte(1), z.lte(60)), 5),
  /** Alarm when the kill switch has stayed engaged this long. */
  killSwitchAlarmMinutes: z._default(z.int().check(z.gte(5)), 60),
  /** Alarm when this share of agent invocations fails over 15 minutes. */
  agentErrorRatePercent: z._default(z.number().check(z.gt(0), z.lte(100)), 5),
});
export type NotificationConfig = z.infer<typeof notificationConfigSchema>;

export function parseNotificationConfig(
  value: unknown,
  where = 'context homeostat:notifications',
): NotificationConfig {
  const parsed = notificationConfigSchema.safeParse(value ?? {});
  if (!parsed.success) throw new ConfigurationError(`${where}: ${describeIssues(parsed.error).join('; ')}`);
  return parsed.data;
}
