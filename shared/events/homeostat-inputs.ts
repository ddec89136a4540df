import * as z from 'zod/mini';

/**
 * Signals an application publishes on the homeostat bus:
 * source `homeostat.app`, detail-type `app.signal`.
 */
export const appSignalDetailSchema = z.object({
  cluster: z.string().check(z.minLength(1)),
  service: z.string().check(z.minLength(1)),
  /** Short stable name of the symptom, e.g. `checkout-errors`. */
  name: z.string().check(z.minLength(1), z.maxLength(200)),
  /** `fault` (something is wrong), `recovery` (it is fine again) or `info`. */
  severity: z.enum(['fault', 'recovery', 'info']),
  message: z._default(z.string(), ''),
  attributes: z.optional(z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()]))),
});

export const appSignalSchema = z.object({
  id: z.string().check(z.minLength(1)),
  'detail-type': z.literal('app.signal'),
  source: z.literal('homeostat.app'),
  time: z.iso.datetime({ offset: true }),
  detail: appSignalDetailSchema,
});

/** A chaos marker: the `chaos.injected` envelope the chaos agent publishes. */
export const chaosMarkerSchema = z.object({
  id: z.string().check(z.minLength(1)),
  'detail-type': z.literal('chaos.injected'),
  source: z.literal('homeostat.chaos'),
  time: z.iso.datetime({ offset: true }),
  detail: z.object({
    id: z.string(),
    data: z.object({
      experimentId: z.string().check(z.minLength(1)),
      experiment: z.string(),
      cluster: z.string().check(z.minLength(1)),
      service: z.string().check(z.minLength(1)),
    }),
  }),
});

export type AppSignal = z.infer<typeof appSignalSchema>;
export type ChaosMarker = z.infer<typeof chaosMarkerSchema>;
