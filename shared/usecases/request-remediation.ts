/**
 * A remediation a person asks for through an assistant (the MCP tool
 * `request_remediation`). The action is checked against the catalog and the
 * policy exactly as the plan agent checks its own candidates
 * (policyContextFor + evaluate), then filed as an approval request the way the
 * plan agent files one under `approve` autonomy: a step awaiting approval, the
 * request with its token hashes, the incident planned → awaiting_approval, and
 * approval.requested through the outbox. It never executes anything: nothing
 * runs until a human decides through the approval function (IAM decides who
 * may), and the act agent checks the policy again when it acts.
 *
 * A request never widens what the loop may do: only mutating catalog actions,
 * parameters the action's own checks accept for the service, on a live
 * incident with nothing in flight, within the attempts limit, never an action
 * already tried on the incident; a service or action at `observe` autonomy is
 * refused (the loop only dry-runs it there); `auto` still asks a human.
 * Bad input (unknown incident, an action outside the catalog, parameters the
 * action refuses, an incident that cannot take a step) writes nothing; a
 * policy refusal is audited like every policy decision (and, as the plan
 * agent's own reading does, renews the service's lease for its one live incident).
 */

import { type ActionParameters, actionCatalog } from '../domain/actions.ts';
import type { ApprovalBinding } from '../domain/approval.ts';
import { isTerminal } from '../domain/incident.ts';
import { evaluate, policyVersion } from '../domain/policy.ts';
import type { Clock, EventPublisher } from '../domain/ports.ts';
import { catalogActions, isCatalogAction } from '../domain/taxonomy.ts';
import type { ApprovalRequestedData } from '../events/catalog.ts';
import { detailTypes } from '../events/detail-types.ts';
import { buildEnvelope } from '../events/envelope.ts';
import { type ApprovalIssuer, issueApprovalRequest, planSource } from './plan.ts';
import {
  type PolicyInputs,
  policyAuditInputs,
  policyContextFor,
  publishPending,
} from './remediation-context.ts';
import type { RemediationStep } from './remediation-ports.ts';

export interface RemediationRequestDeps extends PolicyInputs {
  approvals: ApprovalIssuer;
  /**
   * Where approval.requested goes out now; absent (or refusing, as the bus's
   * resource policy refuses people and the MCP function), the outbox relay
   * publishes it within a minute or two.
   */
  bus?: EventPublisher;
  clock: Clock;
}

export interface RemediationRequest {
  incidentId: string;
  action: string;
  parameters: ActionParameters;
  /** Who asks: the caller's IAM identity. */
  requestedBy: string;
  /** Why, in the requester's words (shown to the person deciding; untrusted text). */
  reason?: string;
}

export type RemediationRequestResult =
  | {
      outcome: 'awaiting_approval';
      incidentId: string;
      service: { cluster: string; service: string };
      step: number;
      action: string;
      parameters: ActionParameters;
      expiresAt: string;
      approveUrl: string | null;
      rejectUrl: string | null;
      /** False when approval.requested was not published now: it waits in the outbox for the relay. */
      published: boolean;
    }
  | {
      outcome: 'refused';
      incidentId: string | null;
      reason: string;
      /** True only for a policy refusal, which is audited like every policy decision. */
      audited: boolean;
    };

/** Mutating catalog actions: the only ones a person can ask to be approved. */
export const requestableActions = catalogActions.filter((a) => actionCatalog.get(a)?.mutates);

const refused = (reason: string, incidentId: string | null): RemediationRequestResult => ({
  outcome: 'refused',
  incidentId,
  reason,
  audited: false,
});

/** Steps that ended without helping: the plan agent moves on from them, and so may a person. */
const endedWithoutHelping: readonly RemediationStep['status'][] = ['failed', 'no_effect', 'worse'];

/** Why the incident cannot take a requested step now; null when it can. */
async function notNow(
  incident: NonNullable<Awaited<ReturnType<RemediationRequestDeps['store']['incident']>>>,
  latest: RemediationStep | undefined,
  deps: RemediationRequestDeps,
): Promise<string | null> {
  const inFlight = latest ? `step ${latest.step} (${latest.action}) is ${latest.status}` : null;
  switch (incident.state) {
    case 'open':
      return 'the incident is not diagnosed yet: ask again once the diagnosis is in';
    case 'diagnosing':
      return (await deps.store.diagnosis(incident.id))
        ? null
        : 'the incident is still being diagnosed: ask again once the diagnosis is in';
    case 'verifying':
      return latest && endedWithoutHelping.includes(latest.status)
        ? null
        : `${inFlight ?? 'a step'}: wait until its verification ends`;
    case 'awaiting_approval':
      return `${inFlight ?? 'a step'}: approve or reject that request first`;
    case 'planned':
    case 'acting':
      return `${inFlight ?? 'a step'}: one remediation at a time`;
    default:
      return isTerminal(incident.state)
        ? `the incident is ${incident.state} (closed): Homeostat no longer remediates it; a new fault on the service opens a new incident`
        : `the incident is ${incident.state}`;
  }
}

export async function requestRemediation(
  request: RemediationRequest,
  deps: RemediationRequestDeps,
): Promise<RemediationRequestResult> {
  const { action, parameters, requestedBy } = request;
  if (!isCatalogAction(action))
    return refused(
      `"${action}" is not in the action catalog; one of: ${requestableActions.join(', ')}`,
      null,
    );
  const spec = actionCatalog.get(action);
  if (!spec?.mutates)
    return refused(
      `${action} changes nothing: there is nothing to approve (one of: ${requestableActions.join(', ')})`,
      null,
    );
  const incident = await deps.store.incident(request.incidentId);
  if (!incident) return refused(`no incident ${request.incidentId}`, null);
  const incidentId = incident.id;
  const steps = await deps.store.steps(incidentId);
  const latest = steps.reduce<RemediationStep | undefined>(
    (a, s) => (a && a.step > s.step ? a : s),
    undefined,
  );
  const busy = await notNow(incident, latest, deps);
  if (busy) return refused(busy, incidentId);
  const stepNo = (latest?.step ?? 0) + 1;
  const { maxAttempts } = deps.settings.verification;
  if (stepNo > maxAttempts)
    return refused(
      `the incident has had ${steps.length} remediation steps; the policy allows ${maxAttempts} per incident`,
      incidentId,
    );
  const tried = steps.find((s) => s.action === action);
  if (tried)
    return refused(
      `${action} was already tried on this incident (step ${tried.step}, ${tried.status}); an action is not tried twice on one incident`,
      incidentId,
    );

  // The catalog's own checks of the parameters against the service: a request they refuse is bad input.
  const current = await deps.serviceState.read(incident.service);
  if (!current)
    return refused(
      `${incident.service.cluster}/${incident.service.service} is not a watched service in ECS any more`,
      incidentId,
    );
  const problems = spec.check(parameters, current);
  if (problems.length > 0)
    return refused(
      `${action} cannot take these parameters on ${incident.service.cluster}/${incident.service.service}: ${problems.join('; ')}`,
      incidentId,
    );

  const now = deps.clock.now();
  const context = await policyContextFor(incident, now, deps);
  if (!context.ok) return refused(context.reason, incidentId);
  const { ctx } = context;
  const decision = evaluate(action, parameters, ctx);
  const causationId = `remediation-request:${deps.approvals.newNonce()}`;
  const inputs = {
    stepNo,
    action,
    parameters,
    requestedBy,
    reason: request.reason ?? null,
    ...policyAuditInputs(context),
  };
  const actor = `mcp:${requestedBy}`;
  // A policy refusal is a decision like the plan agent's: audited with its inputs, nothing else written.
  const refuseByPolicy = async (reason: string): Promise<RemediationRequestResult> => {
    await deps.store.commit({
      incidentId,
      at: now,
      causationId,
      audit: [
        { actor, action: 'remediation.request', inputs, result: 'refused', detail: { via: 'mcp', reason } },
      ],
    });
    return { outcome: 'refused', incidentId, reason, audited: true };
  };
  if (decision.verdict === 'deny')
    return refuseByPolicy(`the policy refuses ${action}: ${decision.reasons.join('; ')}`);
  if (decision.verdict === 'allow' && decision.mode === 'observe')
    return refuseByPolicy(
      `${action} on ${incident.service.cluster}/${incident.service.service} is at observe autonomy: Homeostat only dry-runs it there (a person can raise it with homeostat autonomy set)`,
    );

  const binding: ApprovalBinding = { incidentId, action, parameters, policyVersion };
  // Both tokens as the plan agent issues them; only their hashes are stored.
  const issued = await issueApprovalRequest(binding, stepNo, now, deps);
  const service = incident.service;
  const why = request.reason?.trim() ? `: ${request.reason.trim().slice(0, 300)}` : '';
  const committed = await deps.store.commit({
    incidentId,
    at: now,
    causationId,
    incidentFrom: [incident.state],
    newStep: {
      incidentId,
      step: stepNo,
      service,
      fingerprint: incident.fingerprint,
      action,
      parameters,
      mode: 'approve',
      status: 'awaiting_approval',
      policyVersion,
      snapshot: null,
      detail: { source: 'mcp', requestedBy },
    },
    approvalRequest: issued.approvalRequest,
    incidentPath: ['planned', 'awaiting_approval'],
    audit: [
      {
        actor,
        action: 'remediation.request',
        inputs,
        result: `awaiting_approval:${action}`,
        detail: { via: 'mcp', verdict: decision.verdict, notes: decision.notes },
      },
    ],
    timeline: [
      {
        kind: 'plan',
        detail: {
          step: stepNo,
          action,
          parameters,
          source: 'mcp',
          outcome: 'awaiting_approval',
          reason: `requested by ${requestedBy}`,
        },
      },
    ],
    envelopes: [
      buildEnvelope<ApprovalRequestedData>({
        // The plan path's own event, as the plan agent publishes it (and as the outbox relay may).
        source: planSource,
        time: now,
        incidentId,
        correlationId: incidentId,
        causationId,
        type: detailTypes.approvalRequested,
        data: {
          incidentId,
          service,
          step: stepNo,
          action,
          parameters,
          reason: `requested by ${requestedBy} through an assistant${why}`,
          expiresAt: issued.expiresAt,
          approveUrl: issued.approveUrl,
          rejectUrl: issued.rejectUrl,
        },
      }),
    ],
  });
  // The plan agent (or another request) got there first: the incident moved on.
  if (committed === 'duplicate')
    return refused('the incident changed while the request was being filed; look again', incidentId);
  // Stored with its event: no bus, or a bus that refuses, leaves approval.requested to the outbox relay.
  const bus = deps.bus;
  const published = bus
    ? await publishPending({ store: deps.store, bus }, causationId).then(
        () => true,
        () => false,
      )
    : false;
  return {
    outcome: 'awaiting_approval',
    incidentId,
    service,
    step: stepNo,
    action,
    parameters,
    expiresAt: issued.expiresAt,
    approveUrl: issued.approveUrl,
    rejectUrl: issued.rejectUrl,
    published,
  };
}
