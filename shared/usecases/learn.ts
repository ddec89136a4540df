/**
 * The learn agent's use-case. On remediation.failed it records the failed
 * step's outcome at once (so the next plan already ranks by it); on a
 * closing event (incident.resolved, incident.escalated) it records every
 * executed step's outcome, stores the incident's summary with its
 * embedding, links it similar_to past incidents and solution —solves→
 * problem, detects recurrence (a pattern node and a "fix the root cause"
 * recommendation), recommends autonomy promotions the actions earned, and
 * publishes learning.recorded (written to the outbox with the learning row,
 * so a failed PutEvents leaves it for the relay). Every write is idempotent
 * and the learning row is written last, so a redelivery or a retry after a
 * crash completes the work without doubling any of it.
 */
import { actionSpec } from '../domain/actions.ts';
import type { EmbeddingModels } from '../domain/embedding.ts';
import { InvalidEventError } from '../domain/errors.ts';
import type { IncidentState } from '../domain/incident.ts';
import type { OutcomeInput } from '../domain/knowledge.ts';
import {
  type AutonomyEvidence,
  earnedPromotion,
  type LearningSettings,
  outcomeOfStep,
  type Promotion,
  recurrence,
} from '../domain/learning.ts';
import { formatDuration } from '../domain/narrative.ts';
import { type Autonomy, autonomyFor } from '../domain/policy.ts';
import type { Clock, EventPublisher, WatchedServiceRecord } from '../domain/ports.ts';
import type { ServiceRef } from '../domain/signal.ts';
import type { RootCause } from '../domain/taxonomy.ts';
import { parseBusEvent } from '../events/bus-event.ts';
import {
  incidentEscalatedDataSchema,
  incidentResolvedDataSchema,
  type LearningRecordedData,
  remediationFailedDataSchema,
} from '../events/catalog.ts';
import { detailTypes } from '../events/detail-types.ts';
import { buildEnvelope, type Envelope } from '../events/envelope.ts';
import { type KnowledgeWriter, putNodes } from './knowledge.ts';
import { type OutboxMarks, publishStored } from './outbox.ts';
import type { RemediationStep } from './remediation-ports.ts';

export const learnSource = 'homeostat.learn';

export type ClosedOutcome = LearningRecordedData['outcome'];

/** What the learn agent reads about an incident. */
export interface IncidentFacts {
  id: string;
  service: ServiceRef;
  state: IncidentState;
  title: string;
  fingerprint: string;
  openedAt: Date;
  closedAt: Date | null;
  chaosExperimentId: string | null;
  diagnosis: {
    rootCause: RootCause;
    component: string;
    explanation: string;
    tokens: { input: number; output: number };
    costUsd: number;
  } | null;
  steps: RemediationStep[];
}

export interface LearningRow {
  incidentId: string;
  service: ServiceRef;
  fingerprint: string;
  outcome: ClosedOutcome;
  rootCause: string | null;
  resolvedBy: string | null;
  timeToResolveMs: number | null;
  recurrence: number;
}

export interface LearningStore extends OutboxMarks {
  facts(incidentId: string): Promise<IncidentFacts | null>;
  recordOutcome(outcome: OutcomeInput): Promise<'recorded' | 'duplicate'>;
  /** When each incident with this fingerprint on this service closed since `since` (the current one included). */
  closings(
    service: ServiceRef,
    fingerprint: string,
    since: Date,
  ): Promise<Array<{ incidentId: string; closedAt: Date }>>;
  /** Observe/approve steps of one action on one service, with whether executed runs confirmed it. */
  autonomyEvidence(service: ServiceRef, action: string): Promise<AutonomyEvidence[]>;
  /** An open recommendation, once per (service, action, level). */
  recommend(service: ServiceRef, action: string, promotion: Promotion): Promise<'recommended' | 'exists'>;
  /** The learning row and `announce` (to the outbox, once per envelope id), in one transaction. */
  saveLearning(row: LearningRow, announce: Envelope): Promise<'recorded' | 'duplicate'>;
  /** Outbox rows `causationId` produced that are not published yet. */
  pending(causationId: string): Promise<Envelope[]>;
}

export interface LearnKnowledge extends KnowledgeWriter {
  similarIncidents(
    query: { model: string; vector: number[] },
    filter: { excludeKey?: string; limit?: number },
  ): Promise<Array<{ node: { key: string }; distance: number }>>;
  /** Links unless the edge exists (a runbook's weighted solves edge is kept as it is). */
  linkIfAbsent(
    from: { kind: 'solution' | 'incident'; key: string },
    relation: 'solves' | 'evolves_into',
    to: { kind: 'problem' | 'pattern'; key: string },
    weight: number,
  ): Promise<void>;
}

export interface LearnDeps {
  store: LearningStore;
  knowledge: LearnKnowledge;
  embeddings: EmbeddingModels;
  registry: { watchedService(ref: ServiceRef): Promise<WatchedServiceRecord | null> };
  bus: EventPublisher;
  clock: Clock;
  settings: LearningSettings;
  /** Autonomy where the registry sets none (the remediation settings' default). */
  defaultAutonomy: Autonomy;
}

export type LearnResult =
  | { outcome: 'outcomes_recorded'; incidentId: string; recorded: number }
  | {
      outcome: 'learned' | 'relearned';
      incidentId: string;
      data: LearningRecordedData;
      tokens: { input: number; output: number };
      costUsd: number;
      outcomes: string[];
      /** learning.recorded went out; false: it waits in the outbox for the relay. */
      published: boolean;
    };

/** How a closed incident ended; null while it is still live. */
const closedOutcome = (state: IncidentState): ClosedOutcome | null =>
  state === 'resolved' || state === 'self_resolved' || state === 'escalated' || state === 'failed'
    ? state
    : null;

export async function learnFromIncident(event: unknown, deps: LearnDeps): Promise<LearnResult> {
  const { envelope: cause } = parseBusEvent(event, {
    [detailTypes.incidentResolved]: incidentResolvedDataSchema,
    [detailTypes.incidentEscalated]: incidentEscalatedDataSchema,
    [detailTypes.remediationFailed]: remediationFailedDataSchema,
  });
  const incidentId = cause.data.incidentId;
  const facts = await deps.store.facts(incidentId);
  if (!facts) throw new InvalidEventError(`incident ${incidentId} does not exist`);

  const rootCause = facts.diagnosis?.rootCause ?? null;
  const timeToResolveMs =
    facts.closedAt && (facts.state === 'resolved' || facts.state === 'self_resolved')
      ? facts.closedAt.getTime() - facts.openedAt.getTime()
      : null;
  const recorded = await recordOutcomes(facts, timeToResolveMs, deps);
  const outcome = closedOutcome(facts.state);
  if (!outcome) {
    // A failed step mid-incident: its outcome counts now; the summary waits for the close.
    return { outcome: 'outcomes_recorded', incidentId, recorded: recorded.length };
  }

  const resolvedBy = facts.steps.find((s) => s.status === 'resolved')?.action ?? null;
  const summary = summaryOf(facts, outcome, resolvedBy, timeToResolveMs);
  const incidentRef = { kind: 'incident' as const, key: facts.id };
  await putNodes(
    [
      {
        ...incidentRef,
        title: `${facts.title} (${facts.service.cluster}/${facts.service.service})`,
        content: summary,
        payload: {
          outcome,
          rootCause,
          resolvedBy,
          timeToResolveMs,
          openedAt: facts.openedAt.toISOString(),
          closedAt: facts.closedAt?.toISOString() ?? null,
          chaosExperimentId: facts.chaosExperimentId,
        },
        cluster: facts.service.cluster,
        service: facts.service.service,
        fingerprint: facts.fingerprint,
      },
    ],
    { store: deps.knowledge, embeddings: deps.embeddings },
  );

  const query = await deps.embeddings.embedQuery(summary);
  const similar = (await deps.knowledge.similarIncidents(query, { excludeKey: facts.id, limit: 5 })).filter(
    (hit) => hit.distance <= deps.settings.similarDistance,
  );
  for (const hit of similar) {
    await deps.knowledge.link(
      incidentRef,
      'similar_to',
      { kind: 'incident', key: hit.node.key },
      1 - hit.distance,
    );
  }

  if (resolvedBy && rootCause) {
    await ensureNodes(deps, rootCause, resolvedBy);
    // Weight 0: learned from an outcome, not a runbook's order (the planner ranks by outcomes).
    await deps.knowledge.linkIfAbsent(
      { kind: 'solution', key: resolvedBy },
      'solves',
      { kind: 'problem', key: rootCause },
      0,
    );
  }

  const rec = await detectRecurrence(facts, outcome, rootCause, deps);
  const promotions = await earnedPromotions(facts, deps);

  const data: LearningRecordedData = {
    incidentId,
    service: facts.service,
    outcome,
    rootCause,
    resolvedBy,
    timeToResolveMs,
    outcomesRecorded: recorded.length,
    similarIncidents: similar.map((h) => h.node.key),
    recurrence: rec,
    promotions,
    chaosExperimentId: facts.chaosExperimentId,
  };
  // Written for another closing event of the incident too (once per cause): notify keeps one
  // message per incident, so a repeat changes nothing.
  const announce = buildEnvelope<LearningRecordedData>({
    type: detailTypes.learningRecorded,
    source: learnSource,
    time: deps.clock.now(),
    incidentId,
    correlationId: incidentId,
    causationId: cause.id,
    data,
  });
  const saved = await deps.store.saveLearning(
    {
      incidentId,
      service: facts.service,
      fingerprint: facts.fingerprint,
      outcome,
      rootCause,
      resolvedBy,
      timeToResolveMs,
      recurrence: rec.count,
    },
    announce,
  );
  // What this cause left unpublished (this attempt's or an earlier one's), published now.
  const published = await publishStored(
    { bus: deps.bus, outbox: deps.store },
    await deps.store.pending(cause.id),
  );
  return {
    outcome: saved === 'recorded' ? 'learned' : 'relearned',
    incidentId,
    data,
    // Reported once, for the dashboard's tokens and cost.
    tokens:
      saved === 'recorded' ? (facts.diagnosis?.tokens ?? { input: 0, output: 0 }) : { input: 0, output: 0 },
    costUsd: saved === 'recorded' ? (facts.diagnosis?.costUsd ?? 0) : 0,
    outcomes: recorded,
    published,
  };
}

/** Outcomes of every verified step; returns the results newly recorded. */
async function recordOutcomes(facts: IncidentFacts, timeToResolveMs: number | null, deps: LearnDeps) {
  const rootCause = facts.diagnosis?.rootCause;
  const recorded: string[] = [];
  if (!rootCause) return recorded;
  for (const step of facts.steps) {
    const result = outcomeOfStep(step.status);
    if (!result) continue;
    const startedAt = step.executedAt ?? step.updatedAt;
    const finishedAt = step.updatedAt < startedAt ? startedAt : step.updatedAt;
    const done = await deps.store.recordOutcome({
      idempotencyKey: step.idempotencyKey,
      incidentId: facts.id,
      cluster: facts.service.cluster,
      service: facts.service.service,
      fingerprint: facts.fingerprint,
      rootCause,
      action: step.action,
      parameters: step.parameters,
      result,
      startedAt,
      finishedAt,
      ...(result === 'resolved' && timeToResolveMs !== null ? { timeToResolveMs } : {}),
    });
    if (done === 'recorded') recorded.push(result);
  }
  return recorded;
}

function summaryOf(
  facts: IncidentFacts,
  outcome: ClosedOutcome,
  resolvedBy: string | null,
  timeToResolveMs: number | null,
): string {
  const d = facts.diagnosis;
  const lines = [
    d
      ? `Root cause: ${d.rootCause.replaceAll('_', ' ')} in ${d.component}. ${d.explanation}`
      : 'Not diagnosed.',
    facts.steps.length > 0
      ? `Actions: ${facts.steps
          .map((s) => `${s.action} (${s.mode}, ${s.status}${s.undone ? ', undone' : ''})`)
          .join('; ')}.`
      : 'No action taken.',
    `Outcome: ${outcome.replace('_', ' ')}${resolvedBy ? ` by ${resolvedBy}` : ''}${
      timeToResolveMs !== null ? ` after ${formatDuration(timeToResolveMs)}` : ''
    }.`,
  ];
  if (facts.chaosExperimentId) lines.push(`Caused by chaos experiment ${facts.chaosExperimentId}.`);
  return lines.join('\n');
}

/** The problem and solution nodes, created (as runbook ingest names them) only when missing. */
async function ensureNodes(deps: LearnDeps, rootCause: RootCause, action: string) {
  const refs = [
    { kind: 'problem' as const, key: rootCause },
    { kind: 'solution' as const, key: action },
  ];
  const states = await deps.knowledge.nodeStates(refs);
  const missing = refs.filter((r) => !states.has(`${r.kind}/${r.key}`));
  if (missing.length === 0) return;
  await putNodes(
    missing.map((r) => ({
      ...r,
      title:
        r.kind === 'problem'
          ? `Root cause: ${r.key.replaceAll('_', ' ')}`
          : `Action: ${r.key.replaceAll('_', ' ')}`,
    })),
    { store: deps.knowledge, embeddings: deps.embeddings },
  );
}

async function detectRecurrence(
  facts: IncidentFacts,
  outcome: ClosedOutcome,
  rootCause: RootCause | null,
  deps: LearnDeps,
): Promise<LearningRecordedData['recurrence']> {
  const now = facts.closedAt ?? deps.clock.now();
  const since = new Date(now.getTime() - deps.settings.recurrence.windowDays * 86_400_000);
  const closings = await deps.store.closings(facts.service, facts.fingerprint, since);
  const r = recurrence(
    closings.map((c) => c.closedAt),
    now,
    deps.settings.recurrence,
  );
  const count = Math.max(r.count, 1);
  if (!r.recurring) return { count, recurring: false, recommendation: null };
  const svc = `${facts.service.cluster}/${facts.service.service}`;
  const recommendation =
    `"${facts.title}" has closed ${r.count} times in ${deps.settings.recurrence.windowDays} days on ${svc}` +
    `${rootCause ? ` (root cause ${rootCause.replaceAll('_', ' ')})` : ''}. ` +
    `${outcome === 'resolved' ? 'The repair keeps working, which hides a bug: fix the root cause' : 'Fix the root cause'} rather than repairing it again.`;
  const patternKey = `${svc}/${facts.fingerprint}`;
  await putNodes(
    [
      {
        kind: 'pattern',
        key: patternKey,
        title: `Recurring on ${svc}: ${facts.title}`,
        content: recommendation,
        payload: { count: r.count, windowDays: deps.settings.recurrence.windowDays, rootCause },
        cluster: facts.service.cluster,
        service: facts.service.service,
        fingerprint: facts.fingerprint,
      },
    ],
    { store: deps.knowledge, embeddings: deps.embeddings },
  );
  const pattern = { kind: 'pattern' as const, key: patternKey };
  const known = await deps.knowledge.nodeStates(
    closings.map((c) => ({ kind: 'incident' as const, key: c.incidentId })),
  );
  for (const c of closings) {
    if (known.has(`incident/${c.incidentId}`)) {
      await deps.knowledge.linkIfAbsent({ kind: 'incident', key: c.incidentId }, 'evolves_into', pattern, 1);
    }
  }
  return { count: r.count, recurring: true, recommendation };
}

/** Promotions earned by the actions this incident ran below auto, newly recommended. */
async function earnedPromotions(facts: IncidentFacts, deps: LearnDeps) {
  const actions = [...new Set(facts.steps.filter((s) => s.mode !== 'auto').map((s) => s.action))];
  if (actions.length === 0) return [];
  const watched = await deps.registry.watchedService(facts.service);
  const autonomy = {
    default: watched?.autonomy?.default ?? deps.defaultAutonomy,
    perAction: watched?.autonomy?.perAction ?? {},
  };
  const promotions: LearningRecordedData['promotions'] = [];
  for (const action of actions) {
    const current = autonomyFor(action, { autonomy, chaos: null });
    const evidence = await deps.store.autonomyEvidence(facts.service, action);
    const promotion = earnedPromotion(evidence, current, {
      promotionStreak: deps.settings.promotionStreak,
      alwaysApprove: actionSpec(action).alwaysApprove,
    });
    if (!promotion) continue;
    if ((await deps.store.recommend(facts.service, action, promotion)) === 'recommended') {
      promotions.push({ action, from: promotion.from, to: promotion.to, evidence: promotion.evidence });
    }
  }
  return promotions;
}
