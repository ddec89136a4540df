import { z } from 'zod';

/**
 * "CloudWatch Alarm State Change" as EventBridge delivers it (metric, metric-math
 * and composite alarms). Only the fields Homeostat reads are required.
 */
const alarmStateSchema = z.object({
  value: z.enum(['OK', 'ALARM', 'INSUFFICIENT_DATA']),
  reason: z.string().default(''),
  reasonData: z.string().optional(),
  timestamp: z.string(),
});

const metricStatSchema = z.object({
  metric: z.object({
    namespace: z.string().optional(),
    name: z.string(),
    dimensions: z.record(z.string(), z.string()).default({}),
  }),
  period: z.number().optional(),
  stat: z.string().optional(),
});

export const alarmStateChangeSchema = z.object({
  version: z.string(),
  id: z.string().min(1),
  'detail-type': z.literal('CloudWatch Alarm State Change'),
  source: z.literal('aws.cloudwatch'),
  account: z.string(),
  time: z.iso.datetime({ offset: true }),
  region: z.string(),
  resources: z.array(z.string()).default([]),
  detail: z.object({
    alarmName: z.string().min(1),
    state: alarmStateSchema,
    previousState: alarmStateSchema.partial().optional(),
    configuration: z
      .object({
        description: z.string().optional(),
        alarmRule: z.string().optional(),
        metrics: z
          .array(
            z.object({
              id: z.string(),
              metricStat: metricStatSchema.optional(),
              expression: z.string().optional(),
              returnData: z.boolean().optional(),
            }),
          )
          .default([]),
      })
      .default({ metrics: [] }),
  }),
});

export type AlarmStateChange = z.infer<typeof alarmStateChangeSchema>;
