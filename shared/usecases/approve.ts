/**
 * A human's decision on an approval request, through the signed link (the
 * token proves which request) or the CLI (IAM proves who may invoke the
 * approval function; the open request of the incident is decided). The
 * token must verify, be unexpired, match the step's binding and the current
 * policy version, and be spent once; then approve → plan.approved for the
 * act agent, reject → incident.escalated.
 */
import { type ApprovalBinding, bindingHash, verifyToken } from '../domain/approval.ts';
import { policyVersion } from '../domain/policy.ts';
import type { Clock, EventPublisher } from '../domain/ports.ts';
import type { IncidentEscalatedData, PlanApprovedData } from '../events/catalog.ts';
import { detailTypes } from '../events/detail-types.ts';
import { buildEnvelope } from '../events/envelope.ts';
import { publishPending } from './remediation-context.ts';
import {
  type ApprovalRequest,
  idempotencyKey,
  type RemediationStep,
  type RemediationStore,
} from './remediation-ports.ts';

export const approveSource = 'homeostat.approve';

export interface ApproveDeps {
  store: RemediationStore;
  secret(): Promise<string>;
  bus: EventPublisher;
  clock: Clock;
}

export type DecisionRequest =
  | { token: string; decision: 'approve' | 'reject'; decidedBy: string }
  | { incidentId: string; decision: 'approve' | 'reject'; decidedBy: string };

export type DecisionResult =
  | { outcome: 'approved' | 'rejected'; incidentId: string; step: number; action: string }
  | { outcome: 'refused'; reason: string; incidentId: string | null };

/** The request a token or an incident id points at, with its step; or why there is none. */
export async function findRequest(
  request: DecisionRequest,
  deps: ApproveDeps,
): Promise<
  | { ok: true; approval: ApprovalRequest; step: RemediationStep }
  | { ok: false; reason: string; incidentId: string | null }
> {
  const now = deps.clock.now();
  let approval: ApprovalRequest | null;
  if ('token' in request) {
    const checked = verifyToken(request.token, await deps.secret(), now);
    if (!checked.ok) return { ok: false, reason: `the approval link is ${checked.reason}`, incidentId: null };
    approval = await deps.store.approval(checked.claims.nonce);
    if (!approval || approval.bindingHash !== checked.claims.binding)
      return {
        ok: false,
        reason: 'the approval link does not match a request',
        incidentId: checked.claims.incidentId,
      };
  } else {
    approval = await deps.store.openApproval(request.incidentId, now);
    if (!approval)
      return {
        ok: false,
        reason: `incident ${request.incidentId} has no open approval request`,
        incidentId: request.incidentId,
      };
  }
  const step = await deps.store.step(idempotencyKey(approval.incidentId, approval.step));
  if (!step)
    return { ok: false, reason: 'the approval request has no step', incidentId: approval.incidentId };
  const binding: ApprovalBinding = {
    incidentId: step.incidentId,
    action: step.action,
    parameters: step.parameters,
    policyVersion: step.policyVersion,
  };
  if (bindingHash(binding) !== approval.bindingHash)
    return {
      ok: false,
      reason: 'the step no longer matches what was asked for',
      incidentId: approval.incidentId,
    };
  if (step.policyVersion !== policyVersion)
    return {
      ok: false,
      reason: `the policy changed since the request (${step.policyVersion} → ${policyVersion})`,
      incidentId: approval.incidentId,
    };
  return { ok: true, approval, step };
}

export async function decideApproval(request: DecisionRequest, deps: ApproveDeps): Promise<DecisionResult> {
  const found = await findRequest(request, deps);
  if (!found.ok) return { outcome: 'refused', reason: found.reason, incidentId: found.incidentId };
  const { approval, step } = found;
  const now = deps.clock.now();
  const approved = request.decision === 'approve';
  const incidentId = step.incidentId;
  // Deterministic per request: a replayed decision produces the same event id, and is refused anyway.
  const causationId = `approval:${approval.nonce}`;
  const common = { source: approveSource, time: now, incidentId, correlationId: incidentId, causationId };
  const actor = `human:${request.decidedBy}`;
  const committed = await deps.store.commit({
    incidentId,
    at: now,
    causationId,
    spendApproval: {
      nonce: approval.nonce,
      decision: approved ? 'approved' : 'rejected',
      decidedBy: request.decidedBy,
    },
    moveStep: {
      key: step.idempotencyKey,
      from: ['awaiting_approval'],
      to: approved ? 'planned' : 'rejected',
      fields: { detail: { decidedBy: request.decidedBy } },
    },
    ...(approved ? {} : { incidentPath: ['escalated' as const], releaseLease: true }),
    audit: [
      {
        actor,
        action: 'approval.decision',
        inputs: { nonce: approval.nonce, step: step.step, action: step.action, parameters: step.parameters },
        result: approved ? 'approved' : 'rejected',
        detail: { via: 'token' in request ? 'link' : 'cli' },
      },
    ],
    timeline: [
      {
        kind: approved ? 'approval:approved' : 'approval:rejected',
        detail: { step: step.step, action: step.action, by: request.decidedBy },
      },
    ],
    envelopes: [
      approved
        ? buildEnvelope<PlanApprovedData>({
            ...common,
            type: detailTypes.planApproved,
            data: {
              incidentId,
              service: step.service,
              step: step.step,
              action: step.action,
              parameters: step.parameters,
              mode: 'auto',
              autonomy: 'approve',
              policyVersion: step.policyVersion,
              approvedBy: request.decidedBy,
            },
          })
        : buildEnvelope<IncidentEscalatedData>({
            ...common,
            type: detailTypes.incidentEscalated,
            data: {
              incidentId,
              service: step.service,
              reason: `${request.decidedBy} rejected ${step.action}`,
            },
          }),
    ],
  });
  await publishPending(deps, causationId);
  if (committed === 'duplicate')
    return { outcome: 'refused', reason: 'the request was already decided or has expired', incidentId };
  return { outcome: approved ? 'approved' : 'rejected', incidentId, step: step.step, action: step.action };
}
