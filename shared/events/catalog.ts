import * as z from 'zod/mini';

/** Detail-types Homeostat publishes on its bus, with the schema of their `data`. */
export const serviceRefSchema = z.object({
  cluster: z.string().check(z.minLength(1)),
  service: z.string().check(z.minLength(1)),
});

export const serviceSnapshotSchema = z.object({
  status: z.string(),
  desiredCount: z.int(),
  runningCount: z.int(),
  pendingCount: z.int(),
  taskDefinition: z.nullable(z.string()),
});

export const signalReceivedDataSchema = z.object({
  signalId: z.string(),
  kind: z.literal('alarm'),
  name: z.string(),
  state: z.enum(['OK', 'ALARM', 'INSUFFICIENT_DATA']),
  previousState: z.nullable(z.string()),
  reason: z.string(),
  occurredAt: z.iso.datetime({ offset: true }),
  service: z.nullable(serviceRefSchema),
  serviceSnapshot: z.nullable(serviceSnapshotSchema),
});

export type SignalReceivedData = z.infer<typeof signalReceivedDataSchema>;

export const detailTypes = {
  signalReceived: 'signal.received',
} as const;
