/**
 * The plan agent's use-case: a diagnosis (or a remediation that failed and
 * was undone) → ranked candidates → the first one the policy allows →
 * plan.approved (to act, or to dry-run), approval.requested (a human
 * decides), or incident.escalated. Every decision is audited with its inputs.
 */
import { type ApprovalBinding, issueDecisionTokens } from '../domain/approval.ts';
import { claimedFault } from '../domain/diagnosis.ts';
import { escalationFix } from '../domain/effects.ts';
import { InvalidEventError } from '../domain/errors.ts';
import {
  type Candidate,
  type Choice,
  choose,
  type PlanningKnowledge,
  rankCandidates,
} from '../domain/planner.ts';
import { evaluate, policyVersion } from '../domain/policy.ts';
import type { Clock, EventPublisher, IncidentRecord } from '../domain/ports.ts';
import type { RootCause } from '../domain/taxonomy.ts';
import { parseBusEvent } from '../events/bus-event.ts';
import {
  type ApprovalRequestedData,
  type DiagnosisRequestedData,
  type DiagnosisRevisedData,
  diagnosisCompletedDataSchema,
  diagnosisRevisedDataSchema,
  type IncidentEscalatedData,
  type IncidentResolvedData,
  type PlanApprovedData,
  type RemediationFailedData,
  remediationFailedDataSchema,
} from '../events/catalog.ts';
import { detailTypes } from '../events/detail-types.ts';
import { buildEnvelope, type Envelope } from '../events/envelope.ts';
import {
  type PolicyInputs,
  policyAuditInputs,
  policyContextFor,
  publishPending,
} from './remediation-context.ts';
import type { RemediationChange, RemediationStep } from './remediation-ports.ts';

export const planSource = 'homeostat.plan';

export interface ApprovalIssuer {
  /** The signing key (from Secrets Manager in production). */
  secret(): Promise<string>;
  /** The approval Function URL; null when there is none (approve through the CLI). */
  baseUrl: string | null;
  newNonce(): string;
}

export interface PlanDeps extends PolicyInputs {
  knowledge(problem: { rootCause: RootCause; fingerprint: string }): Promise<PlanningKnowledge>;
  approvals: ApprovalIssuer;
  bus: EventPublisher;
  clock: Clock;
}

export type PlanResult =
  | { outcome: 'rediagnosing'; incidentId: string; afterStep: number; newEvidence: string[] }
  | {
      outcome: 'planned' | 'awaiting_approval' | 'escalated' | 'none';
      incidentId: string;
      step: number | null;
      action: string;
      mode: string | null;
      reason: string | null;
    }
  | { outcome: 'skipped'; incidentId: string; reason: string };

/**
 * A follow-up — remediation.failed, or diagnosis.revised after a failed step —
 * moves the plan on only when it speaks of the incident's latest step, on its
 * service (and, for a failure, its action), and that step really ended
 * failed, no_effect or worse. Otherwise a forged (or stale) event could plan
 * a second action while the first is still being verified. Refused events
 * are skipped, audited and leave everything as it was.
 */
async function unfoundedFollowUp(
  event: Envelope<RemediationFailedData> | Envelope<DiagnosisRevisedData>,
  deps: PlanDeps,
): Promise<PlanResult | null> {
  const { incidentId, service } = event.data;
  const [stepNo, action] =
    'afterStep' in event.data ? [event.data.afterStep, null] : [event.data.step, event.data.action];
  const latest = (await deps.store.steps(incidentId)).reduce<RemediationStep | undefined>(
    (a, s) => (a && a.step > s.step ? a : s),
    undefined,
  );
  const reason = !latest
    ? 'the incident has no remediation step'
    : latest.step !== stepNo
      ? `step ${stepNo} is not the incident's latest step (${latest.step})`
      : (action !== null && latest.action !== action) ||
          latest.service.cluster !== service.cluster ||
          latest.service.service !== service.service
        ? `step ${stepNo} is ${latest.action} on ${latest.service.cluster}/${latest.service.service}, not ${action ?? 'an action'} on ${service.cluster}/${service.service}`
        : !['failed', 'no_effect', 'worse'].includes(latest.status)
          ? `step ${stepNo} is ${latest.status}, not failed`
          : null;
  if (!reason) return null;
  const refused = `${event.type} refused: ${reason}`;
  await deps.store.commit({
    incidentId,
    at: deps.clock.now(),
    causationId: event.id,
    audit: [
      {
        actor: planSource,
        action: 'event.refused',
        inputs: { eventId: event.id, type: event.type, source: event.source, step: stepNo, action },
        result: 'refused',
        detail: { reason: refused },
      },
    ],
  });
  return { outcome: 'skipped', incidentId, reason: refused };
}

/** The event that asks for a plan: the first diagnosis, a failed (and undone) step, or a revised diagnosis. */
export function parsePlanTrigger(event: unknown) {
  return parseBusEvent(event, {
    [detailTypes.diagnosisCompleted]: diagnosisCompletedDataSchema,
    [detailTypes.remediationFailed]: remediationFailedDataSchema,
    [detailTypes.diagnosisRevised]: diagnosisRevisedDataSchema,
  });
}

export const approvalLink = (baseUrl: string, token: string, decision: 'approve' | 'reject') =>
  `${baseUrl.replace(/\/$/, '')}/?decision=${decision}&token=${encodeURIComponent(token)}`;

/**
 * An approval request for `binding` at step `stepNo`, as the plan path files it: one token per
 * decision (a reject link cannot approve), only their hashes in the stored row, and the two links
 * (null without an approval Function URL: decide with the CLI).
 */
export async function issueApprovalRequest(
  binding: ApprovalBinding,
  stepNo: number,
  now: Date,
  deps: { approvals: ApprovalIssuer; settings: { approvalTtlMs: number } },
) {
  const issued = issueDecisionTokens(binding, {
    secret: await deps.approvals.secret(),
    now,
    ttlMs: deps.settings.approvalTtlMs,
    nonce: deps.approvals.newNonce(),
    step: stepNo,
  });
  const baseUrl = deps.approvals.baseUrl;
  return {
    approvalRequest: {
      nonce: issued.nonce,
      step: stepNo,
      bindingHash: issued.binding,
      expiresAt: new Date(issued.expiresAt),
      tokenHashes: issued.hashes,
    },
    expiresAt: issued.expiresAt,
    approveUrl: baseUrl ? approvalLink(baseUrl, issued.tokens.approve, 'approve') : null,
    rejectUrl: baseUrl ? approvalLink(baseUrl, issued.tokens.reject, 'reject') : null,
  };
}

export async function planRemediation(event: unknown, deps: PlanDeps): Promise<PlanResult> {
  const trigger = parsePlanTrigger(event);
  const cause = trigger.envelope;
  const incidentId = cause.data.incidentId;
  const incident = await deps.store.incident(incidentId);
  if (!incident) throw new InvalidEventError(`incident ${incidentId} does not exist`);
  // The state the trigger expects: a redelivery finds the incident moved on.
  const expected = trigger.type === detailTypes.diagnosisCompleted ? 'diagnosing' : 'verifying';
  if (incident.state !== expected) {
    await publishPending(deps, cause.id);
    return { outcome: 'skipped', incidentId, reason: `incident is ${incident.state}` };
  }
  const stepNo =
    trigger.type === detailTypes.remediationFailed
      ? trigger.envelope.data.step + 1
      : trigger.type === detailTypes.diagnosisRevised
        ? trigger.envelope.data.afterStep + 1
        : 1;
  // A failed step, and fault evidence the diagnosis never saw has arrived since: diagnose again first.
  if (trigger.type === detailTypes.diagnosisRevised) {
    const refusal = await unfoundedFollowUp(trigger.envelope, deps);
    if (refusal) return refusal;
  }
  if (trigger.type === detailTypes.remediationFailed) {
    const refusal = await unfoundedFollowUp(trigger.envelope, deps);
    if (refusal) return refusal;
    const fresh = await deps.store.newEvidence(incidentId);
    if (fresh.length > 0) return requestDiagnosis(incident, cause, trigger.envelope.data.step, fresh, deps);
  }
  const steps = await deps.store.steps(incidentId);
  const now = deps.clock.now();
  const diagnosis = await deps.store.diagnosis(incidentId);
  if (!diagnosis) throw new InvalidEventError(`incident ${incidentId} has no diagnosis to plan from`);

  const decided = await decide(incident, stepNo, steps, diagnosis, now, deps);
  const change = await changeFor(incident, cause, stepNo, decided, now, deps);
  const committed = await deps.store.commit(change);
  await publishPending(deps, cause.id);
  if (committed === 'duplicate') return { outcome: 'skipped', incidentId, reason: 'already planned' };
  return {
    outcome: decided.outcome,
    incidentId,
    step: decided.outcome === 'planned' || decided.outcome === 'awaiting_approval' ? stepNo : null,
    action: decided.candidate.action,
    mode:
      decided.outcome === 'planned'
        ? decided.mode
        : decided.outcome === 'awaiting_approval'
          ? 'approve'
          : null,
    reason: decided.reason,
  };
}

/** Asks the diagnosis agent for a new diagnosis; the next step waits for diagnosis.revised. */
async function requestDiagnosis(
  incident: IncidentRecord,
  cause: Envelope<{ incidentId: string }>,
  afterStep: number,
  newEvidence: string[],
  deps: PlanDeps,
): Promise<PlanResult> {
  const now = deps.clock.now();
  const incidentId = incident.id;
  await deps.store.commit({
    incidentId,
    at: now,
    causationId: cause.id,
    incidentFrom: ['verifying'],
    timeline: [{ kind: 'plan', detail: { step: afterStep + 1, outcome: 'rediagnose', newEvidence } }],
    audit: [
      {
        actor: planSource,
        action: 'policy.decision',
        inputs: { stepNo: afterStep + 1, newEvidence },
        result: 'rediagnose',
        detail: { reason: 'new fault evidence since the diagnosis' },
      },
    ],
    envelopes: [
      buildEnvelope<DiagnosisRequestedData>({
        source: planSource,
        time: now,
        incidentId,
        correlationId: incidentId,
        causationId: cause.id,
        type: detailTypes.diagnosisRequested,
        data: { incidentId, service: incident.service, afterStep, newEvidence },
      }),
    ],
  });
  await publishPending(deps, cause.id);
  return { outcome: 'rediagnosing', incidentId, afterStep, newEvidence };
}

type Decided = {
  candidate: Candidate;
  reason: string | null;
  audit: { inputs: Record<string, unknown>; detail: Record<string, unknown> };
} & (
  | { outcome: 'planned'; mode: 'auto' | 'observe'; autonomy: PlanApprovedData['autonomy'] }
  | { outcome: 'awaiting_approval' }
  | { outcome: 'escalated' }
  | { outcome: 'none' }
);

async function decide(
  incident: IncidentRecord,
  stepNo: number,
  steps: readonly RemediationStep[],
  diagnosis: NonNullable<Awaited<ReturnType<PlanDeps['store']['diagnosis']>>>,
  now: Date,
  deps: PlanDeps,
): Promise<Decided> {
  const escalate = (reason: string, inputs: Record<string, unknown> = {}): Decided => ({
    outcome: 'escalated',
    candidate: { action: 'escalate', parameters: { reason }, source: 'fallback' },
    reason,
    audit: { inputs: { stepNo, ...inputs }, detail: {} },
  });
  const { maxAttempts } = deps.settings.verification;
  // Every escalation names the mechanism and the fix a human should make, whatever stopped the loop.
  const fix = escalationFix(diagnosis.judgement, claimedFault(diagnosis)?.rootCause);
  const withFix = (reason: string) => (fix && !reason.includes(fix) ? `${reason}. ${fix}` : reason);
  if (stepNo > maxAttempts)
    return escalate(
      withFix(`gave up after ${maxAttempts} remediation attempts: ${steps.map((s) => s.action).join(', ')}`),
    );
  const context = await policyContextFor(incident, now, deps);
  if (!context.ok) return escalate(withFix(context.reason));
  const { ctx } = context;
  const claim = claimedFault(diagnosis);
  const knowledge = claim
    ? await deps.knowledge({ rootCause: claim.rootCause, fingerprint: incident.fingerprint })
    : { solutions: [], runbookActions: [] };
  // An action that already failed on this incident is not tried again.
  const tried = new Set(steps.map((s) => s.action));
  const ranked = rankCandidates(diagnosis, ctx.service, knowledge);
  const list = ranked.candidates.filter((c) => !tried.has(c.action));
  const choice: Choice = choose(list, (c) => evaluate(c.action, c.parameters, ctx));
  const inputs = {
    stepNo,
    rootCause: claim?.rootCause ?? null,
    candidates: list.map((c) => ({ action: c.action, parameters: c.parameters, source: c.source })),
    tried: [...tried],
    ...policyAuditInputs(context),
  };
  const detail = {
    // The effect model's refusals: each with the fact that ruled it out.
    contraindicated: ranked.ruledOut,
    mechanism: diagnosis.judgement?.mechanism ?? null,
    refused: choice.refused.map((r) => ({ action: r.candidate.action, reasons: r.reasons })),
    decision: choice.decision,
  };
  const { candidate, decision } = choice;
  if (candidate.action === 'escalate')
    return { ...escalate(withFix(String(candidate.parameters.reason))), audit: { inputs, detail } };
  if (candidate.action === 'none')
    return { outcome: 'none', candidate, reason: 'no fault claimed', audit: { inputs, detail } };
  if (decision.verdict === 'approve')
    return { outcome: 'awaiting_approval', candidate, reason: null, audit: { inputs, detail } };
  if (decision.verdict === 'allow')
    return {
      outcome: 'planned',
      mode: decision.mode,
      autonomy: decision.autonomy,
      candidate,
      reason: null,
      audit: { inputs, detail },
    };
  // choose() only returns a refused candidate as escalation; this is a guard, not a path.
  return escalate(decision.reasons.join('; '), inputs);
}

async function changeFor(
  incident: IncidentRecord,
  cause: Envelope<{ incidentId: string }>,
  stepNo: number,
  d: Decided,
  now: Date,
  deps: PlanDeps,
): Promise<RemediationChange> {
  const incidentId = incident.id;
  const service = incident.service;
  const common = {
    source: planSource,
    time: now,
    incidentId,
    correlationId: incidentId,
    causationId: cause.id,
  };
  const base = {
    incidentId,
    at: now,
    causationId: cause.id,
    incidentFrom: [incident.state],
    audit: [
      {
        actor: planSource,
        action: 'policy.decision',
        inputs: d.audit.inputs,
        result:
          d.outcome === 'planned' ? `${d.mode}:${d.candidate.action}` : `${d.outcome}:${d.candidate.action}`,
        detail: { ...d.audit.detail, source: d.candidate.source, parameters: d.candidate.parameters },
      },
    ],
    timeline: [
      {
        kind: 'plan',
        detail: {
          step: stepNo,
          action: d.candidate.action,
          parameters: d.candidate.parameters,
          source: d.candidate.source,
          outcome: d.outcome,
          reason: d.reason,
        },
      },
    ],
  };
  const step = {
    incidentId,
    step: stepNo,
    service,
    fingerprint: incident.fingerprint,
    action: d.candidate.action,
    parameters: d.candidate.parameters,
    policyVersion,
    snapshot: null,
    detail: { source: d.candidate.source },
  };
  switch (d.outcome) {
    case 'none':
      // No fault: close it now. Left open (an alarm that stays in ALARM never goes quiet) it would hold the
      // service's one incident slot for good, and every later fault would attach to it undiagnosed.
      return {
        ...base,
        incidentPath: ['planned', 'self_resolved'],
        releaseLease: true,
        envelopes: [
          buildEnvelope<IncidentResolvedData>({
            ...common,
            type: detailTypes.incidentResolved,
            data: {
              incidentId,
              service,
              resolution: 'self_resolved',
              resolvedAt: now.toISOString(),
              openedAt: incident.openedAt.toISOString(),
            },
          }),
        ],
      };
    case 'escalated':
      return {
        ...base,
        incidentPath: ['escalated'],
        releaseLease: true,
        envelopes: [
          buildEnvelope<IncidentEscalatedData>({
            ...common,
            type: detailTypes.incidentEscalated,
            data: { incidentId, service, reason: d.reason ?? 'no action allowed' },
          }),
        ],
      };
    case 'planned':
      return {
        ...base,
        newStep: { ...step, mode: d.mode, status: 'planned' },
        incidentPath: ['planned'],
        envelopes: [
          buildEnvelope<PlanApprovedData>({
            ...common,
            type: detailTypes.planApproved,
            data: {
              incidentId,
              service,
              step: stepNo,
              action: d.candidate.action,
              parameters: d.candidate.parameters,
              mode: d.mode,
              autonomy: d.autonomy,
              policyVersion,
              approvedBy: null,
            },
          }),
        ],
      };
    case 'awaiting_approval': {
      const binding: ApprovalBinding = {
        incidentId,
        action: d.candidate.action,
        parameters: d.candidate.parameters,
        policyVersion,
      };
      const issued = await issueApprovalRequest(binding, stepNo, now, deps);
      return {
        ...base,
        newStep: { ...step, mode: 'approve', status: 'awaiting_approval' },
        approvalRequest: issued.approvalRequest,
        incidentPath: ['planned', 'awaiting_approval'],
        envelopes: [
          buildEnvelope<ApprovalRequestedData>({
            ...common,
            type: detailTypes.approvalRequested,
            data: {
              incidentId,
              service,
              step: stepNo,
              action: d.candidate.action,
              parameters: d.candidate.parameters,
              reason: `${d.candidate.source}: ${d.candidate.action} for ${incident.title}`,
              expiresAt: issued.expiresAt,
              approveUrl: issued.approveUrl,
              rejectUrl: issued.rejectUrl,
            },
          }),
        ],
      };
    }
  }
}
