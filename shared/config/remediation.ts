import * as z from 'zod/mini';
import { ConfigurationError } from '../domain/errors.ts';
import { type Autonomy, autonomyLevels, type PolicySettings } from '../domain/policy.ts';
import type { VerificationSettings } from '../domain/verification.ts';
import { describeIssues } from '../events/zod.ts';
import { jsonSettingFromEnv } from './env.ts';

const positive = () => z.number().check(z.positive());
const hhmm = () => z.string().check(z.regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'expected HH:MM'));

/**
 * How Homeostat remediates, for every watched service: CDK context
 * `homeostat:remediation` (every field optional), validated at synth and
 * written by the deploy to the SSM parameter `/homeostat/<busName>/settings/remediation`,
 * which the plan, act, verify and learn agents read (cached 60 s) and validate
 * again with this schema. The MCP server still takes it as JSON in
 * HOMEOSTAT_REMEDIATION (remediationSettingsFromEnv).
 */
export const remediationSettingsSchema = z.object({
  /** Autonomy where the registry sets none: `observe` (dry run), `approve` or `auto`. */
  defaultAutonomy: z._default(z.enum(autonomyLevels), 'approve'),
  /** Largest share of a service's tasks one action may take out of service. */
  maxBlastShare: z._default(z.number().check(z.gt(0), z.lte(1)), 0.5),
  /** Per service and action: at most `max` executed actions per `windowMinutes`. */
  rateLimit: z._default(z.object({ max: z.int().check(z.positive()), windowMinutes: positive() }), {
    max: 3,
    windowMinutes: 60,
  }),
  /** Ineffective remediations of one fingerprint (within `breakerWindowHours`) before escalating instead. */
  breakerThreshold: z._default(z.int().check(z.positive()), 2),
  breakerWindowHours: z._default(positive(), 24),
  /** Change freezes: `{kind: "once", start, end, reason}` or `{kind: "weekly", days, from, to, reason}` (UTC). */
  freezeWindows: z._default(
    z.array(
      z.union([
        z.object({
          kind: z.literal('once'),
          start: z.iso.datetime(),
          end: z.iso.datetime(),
          reason: z.string(),
        }),
        z.object({
          kind: z.literal('weekly'),
          days: z.array(z.int().check(z.gte(0), z.lte(6))),
          from: hhmm(),
          to: hhmm(),
          reason: z.string(),
        }),
      ]),
    ),
    [],
  ),
  /** Wait after an action before the first check. */
  settleSeconds: z._default(positive(), 60),
  /** Checks before an action that has not helped is undone. */
  maxChecks: z._default(z.int().check(z.positive()), 3),
  recheckSeconds: z._default(positive(), 60),
  /** Remediation steps per incident before escalating. */
  maxAttempts: z._default(z.int().check(z.positive()), 3),
  /** How long a remediation may hold its service's lease before it lapses. */
  leaseMinutes: z._default(positive(), 60),
  /** How long an approval link stays valid. */
  approvalTtlMinutes: z._default(positive(), 60),
  /** How long a revision must run steadily to count as known-good (a rollback target). */
  minSteadyMinutes: z._default(z.number().check(z.gte(0)), 30),
  /**
   * A step still `executing` after this long was abandoned by its act agent (which times out after
   * 2 minutes): the sweep undoes what it may have done and escalates. At least 3.
   */
  abandonedStepMinutes: z._default(z.number().check(z.gte(3)), 5),
  /** A verification check this late was never fired by its schedule: the sweep runs it. */
  overdueCheckSeconds: z._default(z.number().check(z.gte(30)), 120),
  /** A live incident (not awaiting approval) without progress this long is escalated by the sweep. */
  stalledIncidentMinutes: z._default(z.number().check(z.gte(5)), 15),
});

export type RemediationConfig = z.infer<typeof remediationSettingsSchema>;

/** Validates remediation settings; throws with every problem, named by field. */
export function parseRemediationConfig(value: unknown, where = 'HOMEOSTAT_REMEDIATION'): RemediationConfig {
  const parsed = remediationSettingsSchema.safeParse(value ?? {});
  if (!parsed.success) throw new ConfigurationError(`${where}: ${describeIssues(parsed.error).join('; ')}`);
  return parsed.data;
}

/** The sweep's deadlines (usecases/sweep.ts), in ms. */
export interface SweepSettings {
  abandonedStepMs: number;
  overdueCheckMs: number;
  stalledIncidentMs: number;
}

export interface RemediationSettings {
  defaultAutonomy: Autonomy;
  policy: PolicySettings;
  breakerWindowMs: number;
  verification: VerificationSettings;
  leaseTtlMs: number;
  approvalTtlMs: number;
  minSteadyMs: number;
  sweep: SweepSettings;
}

export function remediationSettings(config: RemediationConfig): RemediationSettings {
  const minutes = 60_000;
  return {
    defaultAutonomy: config.defaultAutonomy,
    policy: {
      maxBlastShare: config.maxBlastShare,
      rateLimit: { max: config.rateLimit.max, windowMs: config.rateLimit.windowMinutes * minutes },
      breakerThreshold: config.breakerThreshold,
      freezeWindows: config.freezeWindows,
    },
    breakerWindowMs: config.breakerWindowHours * 60 * minutes,
    verification: {
      settleMs: config.settleSeconds * 1000,
      maxChecks: config.maxChecks,
      recheckMs: config.recheckSeconds * 1000,
      maxAttempts: config.maxAttempts,
    },
    leaseTtlMs: config.leaseMinutes * minutes,
    approvalTtlMs: config.approvalTtlMinutes * minutes,
    minSteadyMs: config.minSteadyMinutes * minutes,
    sweep: {
      abandonedStepMs: config.abandonedStepMinutes * minutes,
      overdueCheckMs: config.overdueCheckSeconds * 1000,
      stalledIncidentMs: config.stalledIncidentMinutes * minutes,
    },
  };
}

/** From the MCP server's environment (Lambda or an operator's shell): HOMEOSTAT_REMEDIATION holds the JSON (empty: every default). */
export const remediationSettingsFromEnv = (json: string | undefined): RemediationSettings =>
  jsonSettingFromEnv('HOMEOSTAT_REMEDIATION', json, (value) =>
    remediationSettings(parseRemediationConfig(value)),
  );
