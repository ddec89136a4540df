/**
 * The action effect model: what each catalog action can and cannot change,
 * over facts code computed from the evidence (never a model's words) and the
 * service's registered state. An action is applicable when at least one of
 * its indications holds and none of its contraindications does. The planner
 * never plans an inapplicable action — whoever proposed it: the rules, the
 * knowledge base, a runbook or Bedrock — and audits the fact that ruled it
 * out. Pure.
 */
import type { ServiceState } from './actions.ts';
import type { Judgement } from './diagnosis.ts';
import { type Mechanism, mechanismSpecs, rootCauseFixes } from './mechanisms.ts';
import type { CatalogAction, RootCause } from './taxonomy.ts';

export interface ActionAssessment {
  action: CatalogAction;
  applicable: boolean;
  /** Facts that say the action can help. */
  indications: string[];
  /** Facts that say it cannot (any one rules it out). */
  contraindications: string[];
}

type Facts = Judgement['facts'];
type Rule = {
  holds: (f: Facts, s: ServiceState) => boolean;
  why: string | ((f: Facts, s: ServiceState) => string);
};

const rule = (holds: Rule['holds'], why: Rule['why']): Rule => ({ holds, why });

const startFailure = rule(
  (f) => f.startFailure,
  'tasks fail before the application starts: a new task fails the same way',
);
const repeatedCrash = rule(
  (f) => f.repeatedCrash,
  'tasks crash again and again and ECS already replaces each one: more or fresh tasks crash alike',
);

/**
 * Per action: fact-level indications and contraindications. The mechanism's
 * own table (mechanisms.ts: canFix / cannotFix) is applied on top.
 */
const effects: Partial<Record<CatalogAction, { indications: Rule[]; contraindications: Rule[] }>> = {
  restart_service: {
    indications: [
      rule((f) => f.memory === 'growing', 'memory grows steadily: a fresh task starts low again'),
    ],
    contraindications: [startFailure, repeatedCrash],
  },
  scale_out: {
    indications: [
      rule((f) => f.cpu === 'high', 'CPU is saturated: more tasks share the load'),
      rule((f) => f.demandSurge && f.cpu !== 'flat_or_falling', 'demand rose above its baseline'),
    ],
    contraindications: [
      rule((f) => f.placementFailure, 'tasks cannot be placed: more tasks cannot be placed either'),
      rule(
        (f) => f.tasksPending,
        'tasks already wait to be placed (pending while the service runs below its desired count)',
      ),
      rule(
        (_f, s) => s.desiredCount >= s.maxTasks,
        (_f, s) => `the service already runs its registered maximum of ${s.maxTasks} tasks`,
      ),
      rule(
        (f) => f.latencyRising && f.cpu === 'flat_or_falling',
        'latency rises while CPU is flat or falling: the bottleneck is downstream, more tasks add load to it',
      ),
      startFailure,
      repeatedCrash,
    ],
  },
  rollback_task_definition: {
    indications: [
      rule(
        (f, s) =>
          (f.recentDeployment !== null || f.failedRollout) &&
          f.revisionChanges.length > 0 &&
          s.lastKnownGood !== null,
        (f, s) =>
          `symptoms began with the deployment of ${f.recentDeployment ?? 'a new revision'}, which changed ${f.revisionChanges.join(', ')}; ${s.lastKnownGood} ran steadily`,
      ),
      rule(
        (f, s) => f.failedRollout && s.lastKnownGood !== null,
        (_f, s) => `the rollout failed; ${s.lastKnownGood} ran steadily`,
      ),
    ],
    contraindications: [
      rule(
        (_f, s) => s.lastKnownGood === null,
        'no earlier revision was ever steady (a first deployment): there is nothing to roll back to',
      ),
      rule(
        (f) => f.recentDeployment === null && !f.failedRollout,
        'the symptoms did not begin with a deployment',
      ),
      rule(
        (f) => f.recentDeployment !== null && !f.failedRollout && f.revisionChanges.length === 0,
        'the new revision changes nothing that could explain the symptom',
      ),
    ],
  },
  increase_memory: {
    indications: [
      rule((f) => f.memory === 'at_ceiling', 'memory sits at the ceiling: the working set does not fit'),
    ],
    contraindications: [
      rule(
        (f) => f.memory === 'growing',
        'memory grows steadily (a leak): more memory only postpones the next kill',
      ),
      rule(
        (f) => f.memory === 'low',
        (f) => `memory peaked at ${Math.round(f.memoryPeak ?? 0)}%: memory is not short`,
      ),
      rule((f) => f.placementFailure, 'tasks cannot be placed: bigger tasks are harder to place'),
      startFailure,
    ],
  },
  rotate_secret_and_redeploy: {
    indications: [rule((f) => f.credentialRejected, 'a dependency rejects the credential the service holds')],
    contraindications: [
      rule(
        (f) => f.startFailure,
        'tasks fail before the application starts (fetching the secret itself fails): a new value is fetched the same way',
      ),
    ],
  },
  switch_to_fallback: {
    indications: [rule((f) => f.dependencyErrors, 'the service reports a dependency failing')],
    contraindications: [startFailure],
  },
  stop_task: {
    indications: [],
    contraindications: [startFailure, repeatedCrash],
  },
  run_task: { indications: [], contraindications: [] },
};

const say = (r: Rule, f: Facts, s: ServiceState) => (typeof r.why === 'string' ? r.why : r.why(f, s));

/**
 * Can `action` help here? The judgement's mechanism (code's) indicates what
 * its canFix lists; a mechanism a model proposed only narrows: its cannotFix
 * rules actions out, its canFix never indicates one.
 * Without a judgement (a diagnosis recorded before mechanisms existed) every
 * action keeps the catalog's own checks only.
 */
export function assessAction(
  action: CatalogAction,
  judgement: Judgement | undefined,
  service: ServiceState,
  proposedMechanism?: Mechanism,
): ActionAssessment {
  if (action === 'escalate' || action === 'none')
    return { action, applicable: true, indications: [], contraindications: [] };
  if (!judgement)
    return { action, applicable: true, indications: ['no judgement recorded'], contraindications: [] };
  const f = judgement.facts;
  const named = [
    ...new Set([judgement.mechanism, proposedMechanism].filter((m): m is Mechanism => Boolean(m))),
  ];
  const spec = effects[action] ?? { indications: [], contraindications: [] };
  const indications = [
    ...(judgement.mechanism ? [judgement.mechanism] : [])
      .filter((m) => mechanismSpecs[m].canFix.includes(action))
      .map((m) => `mechanism ${m}: ${mechanismSpecs[m].summary}`),
    ...spec.indications.filter((r) => r.holds(f, service)).map((r) => say(r, f, service)),
  ];
  const contraindications = [
    ...named.flatMap((m) => {
      const why = mechanismSpecs[m].cannotFix[action];
      return why ? [`mechanism ${m}: ${why}`] : [];
    }),
    ...spec.contraindications.filter((r) => r.holds(f, service)).map((r) => say(r, f, service)),
  ];
  return {
    action,
    applicable: indications.length > 0 && contraindications.length === 0,
    indications,
    contraindications,
  };
}

/** The human fix an escalation carries: mechanism, evidence, what to change, and what was seen but not explained. */
export function escalationFix(judgement: Judgement | undefined, rootCause?: RootCause): string | null {
  if (!judgement) return rootCause ? `Fix: ${rootCauseFixes[rootCause]}` : null;
  const unexplained =
    judgement.unexplained && judgement.unexplained.length > 0
      ? ` Seen and not explained: ${judgement.unexplained.map((t) => JSON.stringify(t)).join('; ')}`
      : '';
  if (!judgement.mechanism)
    return rootCause ? `Fix: ${rootCauseFixes[rootCause]}.${unexplained}` : unexplained.trim() || null;
  const spec = mechanismSpecs[judgement.mechanism];
  const evidence = judgement.evidenceIds.length > 0 ? ` (evidence ${judgement.evidenceIds.join(', ')})` : '';
  return `${judgement.mechanism}: ${spec.summary}${evidence}. Fix: ${judgement.fix ?? spec.fix}${unexplained}`;
}

/**
 * Code's evidence shows a failure: a fault mechanism, tasks failing to start
 * or crashing, or placement failing. A diagnosis claiming no fault (or too
 * unsure to claim one) against this is contradicted, and goes to humans.
 */
export function evidenceShowsFault(judgement: Judgement | undefined): string | null {
  if (!judgement) return null;
  const f = judgement.facts;
  if (judgement.mechanism && mechanismSpecs[judgement.mechanism].rootCause !== 'no_fault')
    return `the evidence shows ${judgement.mechanism}`;
  if (f.startFailure) return 'tasks fail before starting';
  if (f.repeatedCrash) return 'tasks crash again and again';
  if (f.placementFailure) return 'tasks cannot be placed';
  if (f.userErrorsFiring?.length) return `${f.userErrorsFiring.join(', ')} still firing`;
  return null;
}
