/**
 * A human's decision on an approval request, and the expiry of requests
 * nobody decided.
 *
 * Two doors: a link (its token proves which request and which decision — the
 * approve link approves, the reject link rejects, each for its own step; the
 * principal recorded is "link holder") or the CLI (IAM decides who may invoke
 * the approval function; the CLI names the caller's IAM identity; the
 * incident's newest request is decided). The request must be undecided,
 * unexpired and match the step's binding and the current policy version;
 * then approve → plan.approved for the act agent, reject → incident.escalated.
 * Deciding is idempotent: the same decision again answers as the first time,
 * the other decision is refused, and so is any decision after the expiry.
 */
import {
  type ApprovalBinding,
  bindingHash,
  type Decision,
  linkHolder,
  readToken,
  sameHash,
  tokenHash,
} from '../domain/approval.ts';
import { policyVersion } from '../domain/policy.ts';
import type { Clock, EventPublisher } from '../domain/ports.ts';
import type { PlanApprovedData } from '../events/catalog.ts';
import { detailTypes } from '../events/detail-types.ts';
import { buildEnvelope } from '../events/envelope.ts';
import { publishPending, stepEscalation } from './remediation-context.ts';
import {
  type ApprovalRequest,
  type ApprovalVia,
  idempotencyKey,
  type RemediationChange,
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
  /** Through a link: the token is the credential; the principal is "link holder". */
  | { token: string; decision: Decision; note?: { name?: string; sourceIp?: string } }
  /** Through the CLI: `decidedBy` is the caller's IAM identity (ARN). */
  | { incidentId: string; decision: Decision; decidedBy: string };

export type DecisionResult =
  | {
      outcome: 'approved' | 'rejected';
      incidentId: string;
      step: number;
      action: string;
      decidedBy: string;
      decidedAt: string;
    }
  | { outcome: 'refused'; reason: string; incidentId: string | null };

/** What a request (link or CLI) finds: an open request, one already decided the same way, or a refusal. */
export type FoundRequest =
  | { status: 'open'; approval: ApprovalRequest; step: RemediationStep }
  | { status: 'decided'; approval: ApprovalRequest; result: Exclude<DecisionResult, { outcome: 'refused' }> }
  | { status: 'refused'; result: Extract<DecisionResult, { outcome: 'refused' }> };

const refused = (reason: string, incidentId: string | null): FoundRequest => ({
  status: 'refused',
  result: { outcome: 'refused', reason, incidentId },
});

const past = (d: Decision) => (d === 'approve' ? 'approved' : 'rejected');

/** The request a token or an incident id points at, with its step; or why it cannot be decided now. */
export async function findRequest(request: DecisionRequest, deps: ApproveDeps): Promise<FoundRequest> {
  const now = deps.clock.now();
  let approval: ApprovalRequest | null;
  if ('token' in request) {
    const read = readToken(request.token, await deps.secret());
    if (!read.ok) return refused(`the approval link is ${read.reason}`, null);
    const claims = read.claims;
    if (claims.decision !== request.decision)
      return refused(
        `this link can only ${claims.decision}; it cannot ${request.decision} (use the ${request.decision} link or the CLI)`,
        claims.incidentId,
      );
    approval = await deps.store.approval(claims.nonce);
    const stored = approval?.tokenHashes[claims.decision];
    if (
      !approval ||
      !stored ||
      !sameHash(tokenHash(request.token), stored) ||
      approval.incidentId !== claims.incidentId ||
      approval.step !== claims.step ||
      approval.bindingHash !== claims.binding
    )
      return refused('the approval link does not match a request', claims.incidentId);
  } else {
    approval = await deps.store.latestApproval(request.incidentId);
    if (!approval)
      return refused(`incident ${request.incidentId} has no approval request`, request.incidentId);
  }
  const incidentId = approval.incidentId;
  const step = await deps.store.step(idempotencyKey(incidentId, approval.step));
  if (!step) return refused('the approval request has no step', incidentId);
  const what = `step ${step.step} (${step.action})`;
  const wanted = past(request.decision);
  if (approval.decision === wanted && approval.decidedBy && approval.decidedAt)
    return {
      status: 'decided',
      approval,
      result: {
        outcome: wanted,
        incidentId,
        step: step.step,
        action: step.action,
        decidedBy: approval.decidedBy,
        decidedAt: approval.decidedAt.toISOString(),
      },
    };
  if (approval.decision === 'expired' || (!approval.decision && approval.expiresAt <= now))
    return refused(
      `the approval request for ${what} expired at ${approval.expiresAt.toISOString()}: nobody decided in time`,
      incidentId,
    );
  if (approval.decision)
    return refused(
      `${what} was already ${approval.decision} by ${approval.decidedBy ?? 'someone'} at ${approval.decidedAt?.toISOString() ?? 'an earlier time'}; it cannot be ${wanted} now`,
      incidentId,
    );
  const binding: ApprovalBinding = {
    incidentId: step.incidentId,
    action: step.action,
    parameters: step.parameters,
    policyVersion: step.policyVersion,
  };
  if (bindingHash(binding) !== approval.bindingHash)
    return refused('the step no longer matches what was asked for', incidentId);
  if (step.policyVersion !== policyVersion)
    return refused(
      `the policy changed since the request (${step.policyVersion} → ${policyVersion})`,
      incidentId,
    );
  return { status: 'open', approval, step };
}

/** The event id seed of a decision: one per request, so a replay makes the same event. */
const decisionCause = (nonce: string) => `approval:${nonce}`;

export async function decideApproval(request: DecisionRequest, deps: ApproveDeps): Promise<DecisionResult> {
  const found = await findRequest(request, deps);
  if (found.status === 'decided') {
    // The same decision again: the same answer (and whatever an interrupted first attempt left to publish).
    await publishPending(deps, decisionCause(found.approval.nonce));
    return found.result;
  }
  if (found.status === 'refused') return found.result;
  const { approval, step } = found;
  const now = deps.clock.now();
  const approved = request.decision === 'approve';
  const incidentId = step.incidentId;
  const via: ApprovalVia = 'token' in request ? 'link' : 'cli';
  const principal = 'token' in request ? linkHolder : request.decidedBy;
  // Separation of duties: whoever asked for an action (through MCP) cannot be the one who approves it.
  const requester = typeof step.detail?.requestedBy === 'string' ? step.detail.requestedBy : null;
  if (approved && requester !== null && requester === principal)
    return {
      outcome: 'refused',
      reason: `${principal} requested step ${step.step} (${step.action}) and cannot approve it too: another person must`,
      incidentId,
    };
  const causationId = decisionCause(approval.nonce);
  const common = { source: approveSource, time: now, incidentId, correlationId: incidentId, causationId };
  const note =
    'token' in request && request.note
      ? Object.fromEntries(Object.entries(request.note).filter(([, v]) => v))
      : {};
  const committed = await deps.store.commit({
    incidentId,
    at: now,
    causationId,
    spendApproval: {
      nonce: approval.nonce,
      decision: approved ? 'approved' : 'rejected',
      decidedBy: principal,
      via,
    },
    moveStep: {
      key: step.idempotencyKey,
      from: ['awaiting_approval'],
      to: approved ? 'planned' : 'rejected',
      fields: { detail: { decidedBy: principal, decidedVia: via } },
    },
    ...(approved ? {} : { incidentPath: ['escalated' as const], releaseLease: true }),
    audit: [
      {
        actor: `human:${principal}`,
        action: 'approval.decision',
        inputs: { nonce: approval.nonce, step: step.step, action: step.action, parameters: step.parameters },
        result: approved ? 'approved' : 'rejected',
        detail: { via, principal, ...note },
      },
    ],
    timeline: [
      {
        kind: approved ? 'approval:approved' : 'approval:rejected',
        detail: { step: step.step, action: step.action, by: principal, via },
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
              approvedBy: principal,
            },
          })
        : stepEscalation(step, approveSource, causationId, `${principal} rejected ${step.action}`, now),
    ],
  });
  await publishPending(deps, causationId);
  if (committed === 'duplicate') {
    // Another decision (or the expiry sweep) got there first: answer as it decided.
    const after = await findRequest(request, deps);
    return after.status === 'open'
      ? {
          outcome: 'refused',
          reason: 'the request changed while it was being decided; try again',
          incidentId,
        }
      : after.result;
  }
  return {
    outcome: approved ? 'approved' : 'rejected',
    incidentId,
    step: step.step,
    action: step.action,
    decidedBy: principal,
    decidedAt: now.toISOString(),
  };
}

export interface ExpireDeps {
  store: RemediationStore;
  bus: EventPublisher;
}

export interface ExpiredApproval {
  incidentId: string;
  step: number;
  action: string | null;
  /**
   * What the expiry released: the step (awaiting_approval → expired) and,
   * when the incident was still waiting on it, the incident (→ escalated, with
   * incident.escalated for the notify agent) and the service's lease.
   */
  released: ('step' | 'incident' | 'lease')[];
  /** The events went out now; false: they wait in the outbox for the relay. */
  published: boolean;
}

/** Causation id prefix of expiries (one per request: a repeated expiry makes the same event id). */
export const expiryCausePrefix = 'approval-expired:';
/** Requests expired per sweep run; the next run takes the rest. */
export const expiryBatch = 100;

/**
 * Marks approval requests past their expiry as expired and releases what
 * they held, as a rejection does: the step moves to expired, the incident
 * still awaiting the request is escalated (incident.escalated, "approval
 * expired", through the outbox) and the service's remediation lease is
 * released; each is audited. Idempotent and safe against a decision arriving
 * at the same moment (the request is spent once, by whichever comes first).
 * For the periodic sweep.
 */
export async function expireApprovals(deps: ExpireDeps, now: Date): Promise<ExpiredApproval[]> {
  const expired: ExpiredApproval[] = [];
  for (const approval of await deps.store.expiredApprovals(now, expiryBatch)) {
    const result = await expireOne(approval, deps, now);
    if (result) expired.push(result);
  }
  return expired;
}

async function expireOne(
  approval: ApprovalRequest,
  deps: ExpireDeps,
  now: Date,
): Promise<ExpiredApproval | null> {
  const { incidentId, nonce } = approval;
  const key = idempotencyKey(incidentId, approval.step);
  const [step, incident] = await Promise.all([deps.store.step(key), deps.store.incident(incidentId)]);
  const stepWaiting = step?.status === 'awaiting_approval';
  // The incident waits on this request only while its step does.
  const incidentWaiting = stepWaiting && incident?.state === 'awaiting_approval';
  const released: ExpiredApproval['released'] = [
    ...(stepWaiting ? (['step'] as const) : []),
    ...(incidentWaiting ? (['incident', 'lease'] as const) : []),
  ];
  const causationId = `${expiryCausePrefix}${nonce}`;
  const what = step ? `${step.action} (step ${step.step})` : `step ${approval.step}`;
  const expiresAt = approval.expiresAt.toISOString();
  const change: RemediationChange = {
    incidentId,
    at: now,
    causationId,
    spendApproval: { nonce, decision: 'expired', decidedBy: null, via: 'expiry' },
    ...(stepWaiting
      ? {
          moveStep: {
            key,
            from: ['awaiting_approval'],
            to: 'expired',
            fields: { detail: { expiredAt: expiresAt } },
          },
        }
      : {}),
    ...(incidentWaiting
      ? { incidentFrom: ['awaiting_approval'], incidentPath: ['escalated'], releaseLease: true }
      : {}),
    audit: [
      {
        actor: approveSource,
        action: 'approval.expired',
        inputs: {
          nonce,
          step: approval.step,
          action: step?.action ?? null,
          parameters: step?.parameters ?? null,
          expiresAt,
        },
        result: 'expired',
        detail: { via: 'expiry', released },
      },
    ],
    timeline: [
      { kind: 'approval:expired', detail: { step: approval.step, action: step?.action ?? null, expiresAt } },
    ],
    envelopes:
      incidentWaiting && step
        ? [
            stepEscalation(
              step,
              approveSource,
              causationId,
              `approval expired: nobody approved or rejected ${what} by ${expiresAt}`,
              now,
            ),
          ]
        : [],
  };
  const committed = await deps.store.commit(change);
  // A decision (or another sweep) got there first, or the incident moved: the next run looks again.
  if (committed === 'duplicate') return null;
  // The change is stored with its events: a bus failure leaves them to the outbox relay, not the next request.
  const published = await publishPending(deps, causationId).then(
    () => true,
    () => false,
  );
  return { incidentId, step: approval.step, action: step?.action ?? null, released, published };
}
