/**
 * Learning maths, pure: what an executed step's outcome was, when a
 * fingerprint has become a recurring pattern, and when an action has earned
 * more autonomy on a service. The learn agent applies them; humans decide
 * promotions.
 */
import type { OutcomeResult } from './knowledge.ts';
import type { Autonomy } from './policy.ts';

export interface LearningSettings {
  /** The same fingerprint closing `count` times on a service within `windowDays` is a pattern. */
  recurrence: { count: number; windowDays: number };
  /** Right answers in a row (no regression, no wrong answer) that earn the next autonomy level. */
  promotionStreak: number;
  /** Past incidents closer than this cosine distance are linked similar_to. */
  similarDistance: number;
}

export const defaultLearningSettings: LearningSettings = {
  recurrence: { count: 3, windowDays: 7 },
  promotionStreak: 5,
  similarDistance: 0.35,
};

/** The outcome an executed step is recorded with, or null when it has none (yet, or ever). */
export function outcomeOfStep(status: string): OutcomeResult | null {
  switch (status) {
    case 'resolved':
      return 'resolved';
    case 'no_effect':
      return 'no_effect';
    case 'worse':
      return 'worse';
    case 'failed':
      return 'error';
    default:
      // planned, awaiting approval, executing, executed (unverified), dry runs, rejected, expired.
      return null;
  }
}

export interface Recurrence {
  /** Closings of this fingerprint on this service inside the window, the current one included. */
  count: number;
  recurring: boolean;
  /** True only for the closing that crossed the threshold: recommend once, not on every repeat. */
  crossed: boolean;
}

/** Whether `closings` (every closing of one fingerprint on one service, any order) form a pattern at `now`. */
export function recurrence(
  closings: readonly Date[],
  now: Date,
  settings: LearningSettings['recurrence'],
): Recurrence {
  const since = now.getTime() - settings.windowDays * 86_400_000;
  const count = closings.filter((d) => d.getTime() >= since && d.getTime() <= now.getTime()).length;
  return { count, recurring: count >= settings.count, crossed: count === settings.count };
}

/** How one observe/approve step counts towards earning autonomy. */
export type StepVerdict = 'right' | 'wrong' | 'regression' | 'neutral';

export interface AutonomyEvidence {
  /** `<incident>:<step>`. */
  key: string;
  mode: 'observe' | 'approve' | 'auto';
  status: string;
  /** Dry runs: the service recovered by itself (nothing was needed). */
  recovered: boolean;
  /** Dry runs: this action has resolved the same problem when it did run (here or elsewhere). */
  confirmed: boolean;
  at: Date;
}

/**
 * Approved and resolved is right; worse is a regression; no effect, an error
 * or a human rejecting it is wrong. A dry run that was not needed, or that no
 * executed run has confirmed yet, tells nothing; one whose action is known to
 * fix this problem, on an incident that did need fixing, would have been right.
 */
export function stepVerdict(e: AutonomyEvidence): StepVerdict {
  if (e.status === 'worse') return 'regression';
  if (e.status === 'no_effect' || e.status === 'failed' || e.status === 'rejected') return 'wrong';
  if (e.status === 'resolved') return 'right';
  if (e.status === 'dry_run' && !e.recovered && e.confirmed) return 'right';
  return 'neutral';
}

export interface Promotion {
  from: 'observe' | 'approve';
  to: 'approve' | 'auto';
  /** Right answers in the current streak. */
  evidence: number;
  steps: string[];
}

/**
 * The promotion a (service, action) has earned: `streak` right answers since
 * the last wrong one or regression. Observe earns approve; approve earns auto,
 * except for actions that always need a human.
 */
export function earnedPromotion(
  history: readonly AutonomyEvidence[],
  current: Autonomy,
  settings: { promotionStreak: number; alwaysApprove: boolean },
): Promotion | null {
  if (current === 'auto') return null;
  if (current === 'approve' && settings.alwaysApprove) return null;
  const newestFirst = [...history].sort((a, b) => b.at.getTime() - a.at.getTime());
  const steps: string[] = [];
  for (const e of newestFirst) {
    const verdict = stepVerdict(e);
    if (verdict === 'wrong' || verdict === 'regression') break;
    if (verdict === 'right') steps.push(e.key);
  }
  if (steps.length < settings.promotionStreak) return null;
  return {
    from: current,
    to: current === 'observe' ? 'approve' : 'auto',
    evidence: steps.length,
    steps: steps.reverse(),
  };
}
