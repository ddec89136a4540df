import * as z from 'zod/mini';

/**
 * "CloudWatch Alarm State Change" as EventBridge delivers it (metric, metric-math
 * and composite alarms). Only the fields Homeostat reads are required.
 * zod/mini keeps the Lambda bundles small (classic zod adds ~440 KB).
 */
const alarmStateSchema = z.object({
  value: z.enum(['OK', 'ALARM', 'INSUFFICIENT_DATA']),
  reason: z._default(z.string(), ''),
  reasonData: z.optional(z.string()),
  timestamp: z.string(),
  /**
   * Composite alarms only: why the alarm's actions are not being taken in this state
   * (`Alarm`: the suppressor alarm is in ALARM; `WaitPeriod` / `ExtensionPeriod`: waiting
   * on the suppressor). Any string is accepted: a value AWS adds later must not reject the event.
   * See the CloudWatch API Reference, "CompositeAlarm" (ActionsSuppressedBy).
   */
  actionsSuppressedBy: z.optional(z.string()),
  actionsSuppressedReason: z.optional(z.string()),
});

const metricStatSchema = z.object({
  metric: z.object({
    namespace: z.optional(z.string()),
    name: z.string(),
    dimensions: z._default(z.record(z.string(), z.string()), {}),
  }),
  period: z.optional(z.number()),
  stat: z.optional(z.string()),
});

export const alarmStateChangeSchema = z.object({
  version: z.string(),
  id: z.string().check(z.minLength(1)),
  'detail-type': z.literal('CloudWatch Alarm State Change'),
  source: z.literal('aws.cloudwatch'),
  account: z.string(),
  time: z.iso.datetime({ offset: true }),
  region: z.string(),
  resources: z._default(z.array(z.string()), []),
  detail: z.object({
    alarmName: z.string().check(z.minLength(1)),
    state: alarmStateSchema,
    previousState: z.optional(z.partial(alarmStateSchema)),
    configuration: z._default(
      z.object({
        description: z.optional(z.string()),
        alarmRule: z.optional(z.string()),
        metrics: z._default(
          z.array(
            z.object({
              id: z.string(),
              metricStat: z.optional(metricStatSchema),
              expression: z.optional(z.string()),
              returnData: z.optional(z.boolean()),
            }),
          ),
          [],
        ),
      }),
      { metrics: [] },
    ),
  }),
});

export type AlarmStateChange = z.infer<typeof alarmStateChangeSchema>;
