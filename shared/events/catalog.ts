import { z } from 'zod';

/** Detail-types Homeostat publishes on its bus, with the schema of their `data`. */
export const serviceRefSchema = z.object({ cluster: z.string().min(1), service: z.string().min(1) });

export const serviceSnapshotSchema = z.object({
  status: z.string(),
  desiredCount: z.number().int(),
  runningCount: z.number().int(),
  pendingCount: z.number().int(),
  taskDefinition: z.string().nullable(),
});

export const signalReceivedDataSchema = z.object({
  signalId: z.string(),
  kind: z.literal('alarm'),
  name: z.string(),
  state: z.enum(['OK', 'ALARM', 'INSUFFICIENT_DATA']),
  previousState: z.string().nullable(),
  reason: z.string(),
  occurredAt: z.string(),
  service: serviceRefSchema.nullable(),
  serviceSnapshot: serviceSnapshotSchema.nullable(),
});

export type SignalReceivedData = z.infer<typeof signalReceivedDataSchema>;

export const detailTypes = {
  signalReceived: 'signal.received',
} as const;
