/**
 * The policy engine: whether an action may run on a service now, and how —
 * automatically, after a human approves, or only as a recorded dry run. Every
 * action passes here, whoever proposed it. Pure: the inputs are read by the
 * caller (kill switch, registry, lease, history), the decision is a value.
 */
import { type ActionParameters, actionCatalog, type ServiceState } from './actions.ts';
import { type CatalogAction, isCatalogAction } from './taxonomy.ts';
import { insideInterval, insideWeekly } from './time-window.ts';

export const autonomyLevels = ['observe', 'approve', 'auto'] as const;
export type Autonomy = (typeof autonomyLevels)[number];

/** Bound into approval tokens: an approval given under another policy is not valid under this one. */
export const policyVersion = 'policy-v1';

/** A change freeze: once (ISO instants), or weekly (UTC days 0 = Sunday, `HH:MM` times). */
export type FreezeWindow =
  | { kind: 'once'; start: string; end: string; reason: string }
  | { kind: 'weekly'; days: number[]; from: string; to: string; reason: string };

export interface PolicySettings {
  /** Largest share of the service's tasks an action may take out of service at once. @default 0.5 */
  maxBlastShare: number;
  /** Per service and action: at most `max` executed actions in `windowMs`. @default 3 per hour */
  rateLimit: { max: number; windowMs: number };
  /** Ineffective remediations of one fingerprint before the breaker escalates instead. @default 2 */
  breakerThreshold: number;
  freezeWindows: FreezeWindow[];
}

export const defaultPolicySettings: PolicySettings = {
  maxBlastShare: 0.5,
  rateLimit: { max: 3, windowMs: 60 * 60_000 },
  breakerThreshold: 2,
  freezeWindows: [],
};

export interface AutonomySettings {
  default: Autonomy;
  perAction: Partial<Record<CatalogAction, Autonomy>>;
}

export interface PolicyContext {
  now: Date;
  /** The kill switch (SSM parameter): on stops every action. */
  killSwitch: boolean;
  service: ServiceState;
  autonomy: AutonomySettings;
  /** The registry's allow-list for the service; empty allows the whole catalog. */
  allowedActions: readonly string[];
  /** Actions executed on this service (dry runs excluded), any incident. */
  recentActions: readonly { action: CatalogAction; at: Date }[];
  /** Remediations of this incident's fingerprint that did not help (no effect or worse). */
  ineffectiveRemediations: number;
  /** The incident holding the service's remediation lease, when it is another one. */
  leaseHeldBy: string | null;
  /** The chaos experiment that caused this incident, and the autonomy it asks for. */
  chaos: { experimentId: string; autonomy: Autonomy | null } | null;
  settings: PolicySettings;
}

export type PolicyDecision =
  | { verdict: 'allow'; mode: 'auto' | 'observe'; autonomy: Autonomy; notes: string[] }
  | { verdict: 'approve'; autonomy: 'approve'; notes: string[] }
  /** `retryable`: only time stands in the way (lease, rate limit, freeze); `escalate`: humans must take over. */
  | { verdict: 'deny'; reasons: string[]; retryable: boolean; escalate: boolean };

/** The freeze window `now` falls in, if any. Weekly windows (UTC) may wrap past midnight. */
export function activeFreeze(windows: readonly FreezeWindow[], now: Date): FreezeWindow | null {
  return (
    windows.find((w) =>
      w.kind === 'once'
        ? insideInterval(w.start, w.end, now)
        : insideWeekly({ days: w.days, start: w.from, end: w.to, timezone: 'UTC' }, now),
    ) ?? null
  );
}

/** The autonomy that applies: the experiment's (for chaos), else the action's, else the service's. */
export function autonomyFor(action: CatalogAction, ctx: Pick<PolicyContext, 'autonomy' | 'chaos'>): Autonomy {
  return ctx.chaos?.autonomy ?? ctx.autonomy.perAction[action] ?? ctx.autonomy.default;
}

export function evaluate(action: string, parameters: ActionParameters, ctx: PolicyContext): PolicyDecision {
  const spec = isCatalogAction(action) ? actionCatalog.get(action) : undefined;
  if (!spec)
    return {
      verdict: 'deny',
      reasons: [`"${action}" is not in the action catalog`],
      retryable: false,
      escalate: true,
    };
  // Doing nothing and handing over to humans are always allowed: they touch nothing.
  if (!spec.mutates) return { verdict: 'allow', mode: 'auto', autonomy: 'auto', notes: [] };

  const hard: string[] = [];
  const temporary: string[] = [];
  let escalate = false;
  if (ctx.killSwitch) hard.push('the kill switch is engaged');
  if (ctx.allowedActions.length > 0 && !ctx.allowedActions.includes(spec.name))
    hard.push(`${spec.name} is not allowed for ${ctx.service.cluster}/${ctx.service.service}`);
  hard.push(...spec.check(parameters, ctx.service));
  if (ctx.ineffectiveRemediations >= ctx.settings.breakerThreshold) {
    hard.push(
      `circuit breaker: ${ctx.ineffectiveRemediations} remediations of this symptom did not help (limit ${ctx.settings.breakerThreshold})`,
    );
    escalate = true;
  }
  const blast = spec.blastRadius(parameters, ctx.service);
  if (blast.share > ctx.settings.maxBlastShare)
    hard.push(
      `blast radius: ${blast.tasksOutOfService} of ${ctx.service.desiredCount} tasks at once (${Math.round(blast.share * 100)}%) is above ${Math.round(ctx.settings.maxBlastShare * 100)}%`,
    );
  if (blast.tasksOutOfService > 0 && blast.runningDuring < ctx.service.minTasks)
    hard.push(
      `blast radius: ${blast.runningDuring} tasks would serve, below the registered minimum ${ctx.service.minTasks}`,
    );
  if (ctx.leaseHeldBy) temporary.push(`incident ${ctx.leaseHeldBy} is already remediating this service`);
  const freeze = activeFreeze(ctx.settings.freezeWindows, ctx.now);
  if (freeze) temporary.push(`change freeze: ${freeze.reason}`);
  const since = ctx.now.getTime() - ctx.settings.rateLimit.windowMs;
  const recent = ctx.recentActions.filter((a) => a.action === spec.name && a.at.getTime() > since).length;
  if (recent >= ctx.settings.rateLimit.max)
    temporary.push(
      `rate limit: ${recent} ${spec.name} on this service in the last ${Math.round(ctx.settings.rateLimit.windowMs / 60_000)} min (limit ${ctx.settings.rateLimit.max})`,
    );
  if (hard.length + temporary.length > 0)
    return { verdict: 'deny', reasons: [...hard, ...temporary], retryable: hard.length === 0, escalate };

  const notes = ctx.chaos ? [`chaos experiment ${ctx.chaos.experimentId}: its settings apply`] : [];
  const autonomy = autonomyFor(spec.name, ctx);
  if (autonomy === 'observe') return { verdict: 'allow', mode: 'observe', autonomy, notes };
  if (autonomy === 'approve' || spec.alwaysApprove)
    return {
      verdict: 'approve',
      autonomy: 'approve',
      notes:
        spec.alwaysApprove && autonomy === 'auto' ? [...notes, `${spec.name} always needs approval`] : notes,
    };
  return { verdict: 'allow', mode: 'auto', autonomy, notes };
}
