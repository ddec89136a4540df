import * as z from 'zod/mini';

/**
 * What the chaos agent is asked to do, besides the bus events it answers:
 * run an experiment (an EventBridge Scheduler schedule, or the CLI invoking
 * it directly) and revert one (its one-time revert schedule).
 */
export const chaosRunSchema = z.object({
  homeostat: z.literal('chaos.run'),
  experiment: z.string().check(z.minLength(1)),
  /** Check the guardrails and say what would change; change nothing. */
  dryRun: z._default(z.boolean(), false),
  /** schedule:<name> or human:<user>. */
  requestedBy: z._default(z.string().check(z.minLength(1)), 'unknown'),
  /** One run per request: the CLI sends a fresh id, a schedule its firing time. */
  requestId: z.optional(z.string().check(z.minLength(1))),
  /** Scheduler's `<aws.scheduler.scheduled-time>` (left as is by emulators that do not fill it). */
  scheduledTime: z.optional(z.string()),
});
export type ChaosRunRequest = z.infer<typeof chaosRunSchema>;

export const chaosRevertSchema = z.object({
  homeostat: z.literal('chaos.revert'),
  experimentId: z.string().check(z.minLength(1)),
});
export type ChaosRevertRequest = z.infer<typeof chaosRevertSchema>;

export const chaosCommandSchema = z.discriminatedUnion('homeostat', [chaosRunSchema, chaosRevertSchema]);
