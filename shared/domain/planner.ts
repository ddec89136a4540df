/**
 * The planner: from a diagnosis to ranked candidate actions with concrete
 * parameters, then the first candidate the policy allows. Knowledge ranks
 * first (actions that worked on this problem before), then the diagnosis'
 * recommendations (taxonomy defaults, runbooks); escalation is always last.
 * Pure.
 */
import { type ActionParameters, maxMemoryFactor, maxMemoryMiB, type ServiceState } from './actions.ts';
import { claimedFault, type DiagnosisProposal } from './diagnosis.ts';
import { assessAction, escalationFix, evidenceShowsFault } from './effects.ts';
import type { PolicyDecision } from './policy.ts';
import { type CatalogAction, isCatalogAction } from './taxonomy.ts';

export interface Candidate {
  action: CatalogAction;
  parameters: ActionParameters;
  /** Where it came from, for the audit log and the narrative. */
  source: 'knowledge' | 'diagnosis' | 'runbook' | 'fallback';
}

export interface PlanningKnowledge {
  /** Success rates for this problem (knowledge base), best first. */
  solutions: readonly { action: string; lowerBound: number; outcomes: number }[];
  /** The matching runbook's actions, in its order. */
  runbookActions: readonly string[];
}

/** A learned rate counts once it rests on this many outcomes and its lower bound clears this. */
export const learnedMinOutcomes = 3;
export const learnedMinLowerBound = 0.5;

/** Concrete parameters for `action` on this service, or null when it cannot apply here. */
export function parametersFor(
  action: CatalogAction,
  service: ServiceState,
  context: { reason: string; unhealthyTaskArn?: string | null },
): ActionParameters | null {
  switch (action) {
    case 'restart_service':
    case 'none':
      return {};
    case 'escalate':
      return { reason: context.reason };
    case 'scale_out': {
      const to = Math.min(
        service.maxTasks,
        Math.max(service.desiredCount + 1, Math.ceil(service.desiredCount * 1.5)),
      );
      return to > service.desiredCount ? { desiredCount: to } : null;
    }
    case 'scale_in':
      return service.desiredCount - 1 >= service.minTasks ? { desiredCount: service.desiredCount - 1 } : null;
    case 'rollback_task_definition':
      return service.lastKnownGood && service.lastKnownGood !== service.taskDefinition
        ? { taskDefinition: service.lastKnownGood }
        : null;
    case 'increase_memory': {
      if (!service.memoryMiB) return null;
      // Half as much again, in whole 256 MiB steps, within the catalog's bounds.
      const to = Math.min(
        Math.ceil((service.memoryMiB * 1.5) / 256) * 256,
        service.memoryMiB * maxMemoryFactor,
        maxMemoryMiB,
      );
      return to > service.memoryMiB ? { memoryMiB: to } : null;
    }
    case 'stop_task':
      return context.unhealthyTaskArn ? { taskArn: context.unhealthyTaskArn } : null;
    case 'switch_to_fallback':
      return service.fallback ? { ...service.fallback } : null;
    case 'rotate_secret_and_redeploy':
      return service.secrets[0] ? { secretId: service.secrets[0] } : null;
    case 'run_task':
      return service.maintenanceTasks[0] ? { taskDefinition: service.maintenanceTasks[0] } : null;
  }
}

/** A candidate the effect model ruled out, with the facts that did. */
export interface RuledOut {
  action: CatalogAction;
  source: Candidate['source'];
  reasons: string[];
}

/**
 * Ranked candidates for a diagnosis; a healthy service gets `none`, an
 * unexplained one `escalate`. Only actions the effect model finds applicable
 * (an indication holds, no contraindication does) are candidates — whoever
 * proposed them; the rest are returned in `ruledOut` for the audit log.
 * Escalation is always last and carries the mechanism and the human fix.
 */
export function rankCandidates(
  diagnosis: DiagnosisProposal,
  service: ServiceState,
  knowledge: PlanningKnowledge,
  unhealthyTaskArn: string | null = null,
): { candidates: Candidate[]; ruledOut: RuledOut[] } {
  const claim = claimedFault(diagnosis);
  const fix = escalationFix(diagnosis.judgement, claim?.rootCause);
  const reasonFor = (ruledOut: RuledOut[]) => {
    const base = diagnosis.insufficientEvidence
      ? 'insufficient evidence to name a root cause'
      : claim
        ? `${claim.rootCause}: no applicable action`
        : 'no fault claimed';
    const refused = ruledOut.map((r) => `${r.action}: ${r.reasons.join('; ')}`).join(' | ');
    return [base, fix, refused && `ruled out — ${refused}`].filter(Boolean).join('. ');
  };
  if (diagnosis.insufficientEvidence)
    return {
      candidates: [{ action: 'escalate', parameters: { reason: reasonFor([]) }, source: 'fallback' }],
      ruledOut: [],
    };
  if (!claim) {
    // "No fault" against code's evidence of one (a model's word, or a claim too unsure to count): humans decide.
    const contradiction = evidenceShowsFault(diagnosis.judgement);
    if (contradiction)
      return {
        candidates: [
          {
            action: 'escalate',
            parameters: {
              reason: [
                `the diagnosis claims no fault but ${contradiction}`,
                escalationFix(diagnosis.judgement),
              ]
                .filter(Boolean)
                .join('. '),
            },
            source: 'fallback',
          },
        ],
        ruledOut: [],
      };
    return { candidates: [{ action: 'none', parameters: {}, source: 'diagnosis' }], ruledOut: [] };
  }
  const ranked: [string, Candidate['source']][] = [
    ...knowledge.solutions
      .filter((s) => s.outcomes >= learnedMinOutcomes && s.lowerBound >= learnedMinLowerBound)
      .map((s) => [s.action, 'knowledge'] as [string, Candidate['source']]),
    ...diagnosis.recommendedActions.map((a) => [a, 'diagnosis'] as [string, Candidate['source']]),
    ...knowledge.runbookActions.map((a) => [a, 'runbook'] as [string, Candidate['source']]),
  ];
  const out: Candidate[] = [];
  const ruledOut: RuledOut[] = [];
  for (const [action, source] of ranked) {
    // A fault with "do nothing" or "escalate" as an option: escalation comes last anyway.
    if (!isCatalogAction(action) || action === 'none' || action === 'escalate') continue;
    if (out.some((c) => c.action === action) || ruledOut.some((r) => r.action === action)) continue;
    const assessment = assessAction(action, diagnosis.judgement, service, claim.mechanism);
    if (!assessment.applicable) {
      ruledOut.push({
        action,
        source,
        reasons:
          assessment.contraindications.length > 0
            ? assessment.contraindications
            : ['no fact indicates it can fix this mechanism'],
      });
      continue;
    }
    const parameters = parametersFor(action, service, { reason: reasonFor(ruledOut), unhealthyTaskArn });
    if (parameters) out.push({ action, parameters, source });
  }
  return {
    candidates: [
      ...out,
      { action: 'escalate', parameters: { reason: reasonFor(ruledOut) }, source: 'fallback' },
    ],
    ruledOut,
  };
}

/** The ranked candidates alone (see rankCandidates). */
export function candidates(
  diagnosis: DiagnosisProposal,
  service: ServiceState,
  knowledge: PlanningKnowledge,
  unhealthyTaskArn: string | null = null,
): Candidate[] {
  return rankCandidates(diagnosis, service, knowledge, unhealthyTaskArn).candidates;
}

export interface Choice {
  candidate: Candidate;
  decision: PolicyDecision;
  /** Candidates the policy refused before the choice, with why. */
  refused: { candidate: Candidate; reasons: string[] }[];
}

/**
 * The first candidate the policy allows (to run, to dry-run, or to ask a
 * human); escalation when it refuses them all — with every reason, and the
 * breaker's verdict that escalation is due.
 */
export function choose(list: readonly Candidate[], decide: (candidate: Candidate) => PolicyDecision): Choice {
  const refused: Choice['refused'] = [];
  for (const candidate of list) {
    if (candidate.action === 'escalate') break;
    const decision = decide(candidate);
    if (decision.verdict !== 'deny') return { candidate, decision, refused };
    refused.push({ candidate, reasons: decision.reasons });
    if (decision.escalate) break;
  }
  const given = list.find((c) => c.action === 'escalate')?.parameters.reason;
  const policy = refused.map((r) => `${r.candidate.action}: ${r.reasons.join('; ')}`).join(' | ');
  const reason =
    refused.length > 0
      ? `the policy refused every candidate — ${policy}${given ? `. ${String(given)}` : ''}`
      : String(given ?? 'no candidate action');
  const candidate: Candidate = { action: 'escalate', parameters: { reason }, source: 'fallback' };
  return { candidate, decision: decide(candidate), refused };
}
