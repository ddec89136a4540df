/**
 * Verification: did an action help? The service's health after the action
 * settled, compared with its health just before — alarms back to OK, the
 * service steady (running == desired, the rollout completed), and nothing
 * newly broken. Pure.
 */

/** How a service looks at one moment, as far as verification is concerned. */
export interface HealthReading {
  /** The service's alarms (by name) in ALARM. */
  alarmsInAlarm: string[];
  runningCount: number;
  desiredCount: number;
  /** One deployment left and its rollout completed (no rollout in progress or failed). */
  rolloutCompleted: boolean;
  /** `family:revision` the service runs (steady after a resolution: a rollback target later). */
  taskDefinition: string | null;
}

export type VerificationOutcome = 'resolved' | 'no_effect' | 'worse';

export interface Judgement {
  outcome: VerificationOutcome;
  reasons: string[];
}

/** Compares health after the action with before; `before` is null when no snapshot holds it. */
export function judge(before: HealthReading | null, after: HealthReading): Judgement {
  const worse: string[] = [];
  if (before) {
    const newAlarms = after.alarmsInAlarm.filter((a) => !before.alarmsInAlarm.includes(a));
    if (newAlarms.length > 0) worse.push(`newly in ALARM: ${newAlarms.join(', ')}`);
    if (after.runningCount < before.runningCount && after.runningCount < after.desiredCount)
      worse.push(`${after.runningCount} tasks running, ${before.runningCount} before the action`);
  }
  if (worse.length > 0) return { outcome: 'worse', reasons: worse };
  const unhealthy = [
    ...(after.alarmsInAlarm.length > 0 ? [`still in ALARM: ${after.alarmsInAlarm.join(', ')}`] : []),
    ...(after.runningCount < after.desiredCount
      ? [`${after.runningCount} of ${after.desiredCount} tasks running`]
      : []),
    ...(after.rolloutCompleted ? [] : ['the rollout has not completed']),
  ];
  if (unhealthy.length > 0) return { outcome: 'no_effect', reasons: unhealthy };
  return { outcome: 'resolved', reasons: ['alarms OK, running == desired, rollout completed'] };
}

export interface VerificationSettings {
  /** How long after an action the first check runs (the service settles). @default 60 s */
  settleMs: number;
  /** Checks before an action that has not helped counts as no effect (and is undone). @default 3 */
  maxChecks: number;
  /** Between checks. @default 60 s */
  recheckMs: number;
  /** Remediation steps per incident before Homeostat gives up and escalates. @default 3 */
  maxAttempts: number;
}

export const defaultVerificationSettings: VerificationSettings = {
  settleMs: 60_000,
  maxChecks: 3,
  recheckMs: 60_000,
  maxAttempts: 3,
};

export type VerificationStep =
  | { kind: 'resolve' }
  /** Not better yet: look again later. */
  | { kind: 'recheck' }
  /** No better after every check, or worse at once: undo. */
  | { kind: 'undo'; outcome: 'no_effect' | 'worse' };

/** What to do with a judgement at check number `check` (1-based). Worse is undone at once. */
export function nextStep(
  judgement: Judgement,
  check: number,
  settings: VerificationSettings,
): VerificationStep {
  if (judgement.outcome === 'resolved') return { kind: 'resolve' };
  if (judgement.outcome === 'worse') return { kind: 'undo', outcome: 'worse' };
  return check < settings.maxChecks ? { kind: 'recheck' } : { kind: 'undo', outcome: 'no_effect' };
}
