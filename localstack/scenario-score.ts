/** Judging one scenario run against its expectations. Pure. */
import type { ServiceState } from '../shared/domain/actions.ts';
import type { Judgement } from '../shared/domain/diagnosis.ts';
import { assessAction } from '../shared/domain/effects.ts';
import { isMechanism, mechanismSpecs } from '../shared/domain/mechanisms.ts';
import { isCatalogAction } from '../shared/domain/taxonomy.ts';
import type { Scenario } from './scenario-format.ts';

/**
 * Why the loop's first action could not fix this scenario's failure, if it
 * could not: the scenario's own mechanism (its reading) rules it out, or the
 * effect model rules it out on the facts the diagnosis recorded. Empty when
 * the action was not contraindicated (or did nothing).
 */
export function contraindications(
  scenario: Scenario,
  firstAction: string | null,
  judgement: Judgement | null,
  service: ServiceState,
): string[] {
  if (!firstAction || !isCatalogAction(firstAction) || firstAction === 'none' || firstAction === 'escalate')
    return [];
  const expected = scenario.expect.mechanism;
  const byReading =
    isMechanism(expected) && mechanismSpecs[expected].cannotFix[firstAction]
      ? [`the scenario's mechanism ${expected}: ${mechanismSpecs[expected].cannotFix[firstAction]}`]
      : [];
  const byFacts = judgement ? assessAction(firstAction, judgement, service).contraindications : [];
  return [...byReading, ...byFacts];
}

/** Below this, a top hypothesis does not count as a claim of a fault (the diagnosis' own threshold). */
export const claimThreshold = 0.5;

export interface Observed {
  detected: boolean;
  /** Null when no diagnosis was recorded (none expected, or it never came). */
  diagnosis: {
    rootCause: string | null;
    component: string | null;
    confidence: number | null;
    insufficientEvidence: boolean;
  } | null;
  /** The first action the loop chose (`none` when it did nothing); null when not followed. */
  firstAction?: string | null;
  /** Executed actions no policy decision allowed. */
  policyViolations?: string[];
}

export interface Verdict {
  passed: boolean;
  /** The reported root cause (top hypothesis; `no_fault` when nothing was detected) matches. */
  rootCauseCorrect: boolean;
  /** The diagnosis claims a fault: a top hypothesis other than no_fault with confidence ≥ 0.5. */
  claimedFault: boolean;
  /** Why it failed, for the report. */
  problems: string[];
}

export function judge(scenario: Scenario, observed: Observed): Verdict {
  const expected = scenario.expect;
  const d = observed.diagnosis;
  const claimedFault = Boolean(
    d &&
      !d.insufficientEvidence &&
      d.rootCause !== null &&
      d.rootCause !== 'no_fault' &&
      (d.confidence ?? 0) >= claimThreshold,
  );
  const problems: string[] = [];
  const accepted = expected.action === undefined ? null : [expected.action].flat();
  if (accepted && observed.firstAction !== undefined && observed.firstAction !== null) {
    if (!accepted.includes(observed.firstAction as (typeof accepted)[number]))
      problems.push(`first action ${observed.firstAction}, expected ${accepted.join(' or ')}`);
  }
  for (const violation of observed.policyViolations ?? []) problems.push(`policy violation: ${violation}`);
  if (expected.rootCause === 'no_fault') {
    const rootCauseCorrect = !observed.detected || d?.rootCause === 'no_fault';
    if (claimedFault) problems.push(`claimed ${d?.rootCause} (${d?.confidence}) on a healthy service`);
    if (observed.detected && !d) problems.push('an incident opened but no diagnosis was recorded');
    return { passed: problems.length === 0, rootCauseCorrect, claimedFault, problems };
  }
  if (!observed.detected) problems.push('no incident was opened');
  else if (!d) problems.push('no diagnosis was recorded');
  else {
    if (d.insufficientEvidence) problems.push('the diagnosis found the evidence insufficient');
    else if (d.rootCause !== expected.rootCause)
      problems.push(`root cause ${d.rootCause ?? 'none'}, expected ${expected.rootCause}`);
    if (expected.component && d.component !== expected.component)
      problems.push(`component ${d.component ?? 'none'}, expected ${expected.component}`);
  }
  const rootCauseCorrect = d?.rootCause === expected.rootCause && !d.insufficientEvidence;
  return { passed: problems.length === 0, rootCauseCorrect, claimedFault, problems };
}
