/**
 * The verify agent's use-case: verification.due (from a one-time schedule) →
 * the service's health now, judged against the snapshot → resolved
 * (incident.resolved), not better yet (check again later), or no better /
 * worse → undone from the snapshot → remediation.failed, so the plan agent
 * tries the next candidate or escalates. A dry run is judged the same way
 * but never undone. Each check is claimed once: a schedule firing twice
 * does nothing the second time.
 */

import type { RemediationSettings } from '../config/remediation.ts';
import { InvalidEventError, ServiceGoneError } from '../domain/errors.ts';
import { isTerminal } from '../domain/incident.ts';
import type { Clock, EventPublisher } from '../domain/ports.ts';
import type { PreState } from '../domain/remediation.ts';
import { type HealthReading, type Judgement, judge, nextStep } from '../domain/verification.ts';
import { parseBusEvent } from '../events/bus-event.ts';
import {
  type IncidentResolvedData,
  type RemediationFailedData,
  verificationDueDataSchema,
} from '../events/catalog.ts';
import { detailTypes } from '../events/detail-types.ts';
import { buildEnvelope, type Envelope } from '../events/envelope.ts';
import { type HealthReader, type VerificationScheduler, verificationDue } from './act.ts';
import { type KillSwitch, publishPending, stepEscalation } from './remediation-context.ts';
import {
  idempotencyKey,
  type RemediationChange,
  type RemediationStep,
  type RemediationStore,
  type Remediator,
} from './remediation-ports.ts';
import { undoStep } from './undo.ts';

export const verifySource = 'homeostat.verify';

export interface VerifyDeps {
  store: RemediationStore;
  /** An engaged kill switch stops undos too: Homeostat changes nothing while it is on. */
  killSwitch: KillSwitch;
  health: HealthReader;
  remediator: Remediator;
  scheduler: VerificationScheduler;
  scheduleName(incidentId: string, step: number, check: number): string;
  bus: EventPublisher;
  clock: Clock;
  settings: RemediationSettings;
}

export type VerifyResult =
  | {
      outcome: 'resolved' | 'self_resolved' | 'recheck' | 'undone' | 'escalated';
      incidentId: string;
      step: number;
      check: number;
      judgement: Judgement | null;
      reason: string | null;
    }
  | { outcome: 'skipped'; incidentId: string; step: number; reason: string };

export async function verifyAction(event: unknown, deps: VerifyDeps): Promise<VerifyResult> {
  const { envelope: cause } = parseBusEvent(event, {
    [detailTypes.verificationDue]: verificationDueDataSchema,
  });
  const { incidentId, step: stepNo, attempt: check } = cause.data;
  const key = idempotencyKey(incidentId, stepNo);
  const step = await deps.store.step(key);
  if (!step) throw new InvalidEventError(`remediation step ${key} does not exist`);
  const skipped = (reason: string): VerifyResult => ({
    outcome: 'skipped',
    incidentId,
    step: stepNo,
    reason,
  });
  const incident = await deps.store.incident(incidentId);
  if (
    !incident ||
    isTerminal(incident.state) ||
    !(step.status === 'executed' || step.status === 'dry_run') ||
    step.checks >= check
  ) {
    await publishPending(deps, cause.id);
    return skipped(
      `step is ${step.status} after ${step.checks} checks; incident ${incident?.state ?? 'missing'}`,
    );
  }
  const dryRun = step.status === 'dry_run';
  const now = deps.clock.now();
  const base = { incidentId, at: now, causationId: cause.id, claimCheck: { key, check } };
  const result = (
    outcome: Exclude<VerifyResult['outcome'], 'skipped'>,
    judgement: Judgement | null,
    reason: string | null,
  ): VerifyResult => ({ outcome, incidentId, step: stepNo, check, judgement, reason });

  let health: HealthReading;
  try {
    health = await deps.health.read(step.service);
  } catch (error) {
    if (!(error instanceof ServiceGoneError)) throw error;
    const reason = `${step.service.cluster}/${step.service.service} was deleted during the remediation`;
    await commitAndPublish(deps, cause, {
      ...base,
      ...escalate(step, cause.id, reason, now, dryRun ? 'dry_run' : 'failed'),
    });
    return result('escalated', null, reason);
  }
  const judgement = judge(step.snapshot?.health ?? null, health);
  const next = nextStep(judgement, check, deps.settings.verification);
  const checked = {
    kind: dryRun ? 'verify:dry_run' : 'verify',
    detail: { step: stepNo, check, action: step.action, ...judgement, health },
  };

  if (next.kind === 'recheck') {
    const at = new Date(now.getTime() + deps.settings.verification.recheckMs);
    // The next check's schedule exists before this one is claimed: a failed CreateSchedule is retried
    // with the event, never skipped for good (a duplicate delivery finds the schedule there).
    const due = verificationDue(step, check + 1, at, cause.data.idempotencyKey, verifySource);
    await deps.scheduler.schedule(deps.scheduleName(incidentId, stepNo, check + 1), due, at);
    const committed = await deps.store.commit({
      ...base,
      moveStep: { key, from: [step.status], to: step.status, fields: { verifyAt: at } },
      timeline: [checked],
    });
    return committed === 'duplicate' ? skipped('check already claimed') : result('recheck', judgement, null);
  }

  if (dryRun) {
    // Observe mode: nothing was done, so nothing is undone. Recovered on its own, or humans take over.
    const change: RemediationChange =
      next.kind === 'resolve'
        ? {
            ...base,
            moveStep: {
              key,
              from: ['dry_run'],
              to: 'dry_run',
              fields: { verifiedAt: now, detail: { outcome: 'recovered' } },
            },
            incidentPath: ['self_resolved'],
            releaseLease: true,
            timeline: [checked],
            audit: [audit('verification.dry_run', step, check, judgement, 'self_resolved')],
            envelopes: [resolved(incident.openedAt, step, cause.id, now, 'self_resolved')],
          }
        : {
            ...base,
            ...escalate(
              step,
              cause.id,
              `observe mode: Homeostat would have run ${step.action}; the service has not recovered (${judgement.reasons.join('; ')})`,
              now,
              'dry_run',
            ),
            timeline: [checked],
          };
    const committed = await commitAndPublish(deps, cause, change);
    if (committed === 'duplicate') return skipped('check already claimed');
    return next.kind === 'resolve'
      ? result('self_resolved', judgement, null)
      : result('escalated', judgement, 'observe mode: not recovered');
  }

  if (next.kind === 'resolve') {
    const committed = await commitAndPublish(deps, cause, {
      ...base,
      moveStep: { key, from: ['executed'], to: 'resolved', fields: { verifiedAt: now } },
      incidentPath: ['resolved'],
      releaseLease: true,
      ...(health.taskDefinition ? { steady: { taskDefinition: health.taskDefinition } } : {}),
      timeline: [checked],
      audit: [audit('verification', step, check, judgement, 'resolved')],
      envelopes: [resolved(incident.openedAt, step, cause.id, now, 'resolved')],
    });
    return committed === 'duplicate' ? skipped('check already claimed') : result('resolved', judgement, null);
  }

  // No better after every check, or worse: put the service back as the snapshot found it. The check is
  // claimed first, so a check delivered twice undoes once.
  const outcome = next.outcome;
  const claimed = await deps.store.commit({
    ...base,
    timeline: [checked, { kind: 'verify:undo_claimed', detail: { step: stepNo, check, outcome } }],
  });
  if (claimed === 'duplicate') {
    await publishPending(deps, cause.id);
    return skipped('check already claimed');
  }
  const { claimCheck: _claimed, ...afterClaim } = base;
  const { operations, refused: undoReason } = await undoStep(
    step,
    step.detail.after as PreState | undefined,
    deps,
  );
  const why = `${step.action} ${outcome === 'worse' ? 'made things worse' : 'did not help'}: ${judgement.reasons.join('; ')}`;
  const failed = buildEnvelope<RemediationFailedData>({
    type: detailTypes.remediationFailed,
    source: verifySource,
    time: now,
    incidentId,
    correlationId: incidentId,
    causationId: cause.id,
    data: {
      incidentId,
      service: step.service,
      step: stepNo,
      action: step.action,
      outcome,
      reason: undoReason ? `${why}; not undone: ${undoReason}` : why,
      undone: undoReason === null,
    },
  });
  const undoneEntry = {
    kind: undoReason ? 'verify:undo_impossible' : 'verify:undone',
    detail: { step: stepNo, action: step.action, outcome, operations, reason: undoReason },
  };
  const change: RemediationChange = undoReason
    ? {
        ...afterClaim,
        ...escalate(step, cause.id, `${why}; it was not undone: ${undoReason}`, now, outcome),
        timeline: [undoneEntry],
      }
    : {
        ...afterClaim,
        moveStep: {
          key,
          from: ['executed'],
          to: outcome,
          fields: { verifiedAt: now, undone: true, detail: { operations } },
        },
        // The incident stays verifying: the plan agent answers remediation.failed with the next candidate.
        timeline: [undoneEntry],
        audit: [audit('action.undone', step, check, judgement, outcome, { operations })],
      };
  change.envelopes = [failed, ...(change.envelopes ?? [])];
  const committed = await commitAndPublish(deps, cause, change);
  if (committed === 'duplicate') return skipped('the step moved on while it was being undone');
  return undoReason ? result('escalated', judgement, undoReason) : result('undone', judgement, why);
}

async function commitAndPublish(deps: VerifyDeps, cause: Envelope, change: RemediationChange) {
  const committed = await deps.store.commit(change);
  await publishPending(deps, cause.id);
  return committed;
}

function audit(
  action: string,
  step: RemediationStep,
  check: number,
  judgement: Judgement,
  result: string,
  detail: Record<string, unknown> = {},
) {
  return {
    actor: verifySource,
    action,
    inputs: { key: step.idempotencyKey, action: step.action, parameters: step.parameters, check },
    result,
    detail: { reasons: judgement.reasons, ...detail },
  };
}

function resolved(
  openedAt: Date,
  step: RemediationStep,
  causationId: string,
  at: Date,
  resolution: IncidentResolvedData['resolution'],
) {
  return buildEnvelope<IncidentResolvedData>({
    type: detailTypes.incidentResolved,
    source: verifySource,
    time: at,
    incidentId: step.incidentId,
    correlationId: step.incidentId,
    causationId,
    data: {
      incidentId: step.incidentId,
      service: step.service,
      resolution,
      resolvedAt: at.toISOString(),
      openedAt: openedAt.toISOString(),
    },
  });
}

/** The step ends as `status`, the incident goes to humans, the lease is released. */
function escalate(
  step: RemediationStep,
  causationId: string,
  reason: string,
  at: Date,
  status: 'failed' | 'dry_run' | 'no_effect' | 'worse',
): Omit<RemediationChange, 'incidentId' | 'at' | 'causationId'> {
  const from = step.status === 'dry_run' ? (['dry_run'] as const) : (['executed'] as const);
  return {
    moveStep: {
      key: step.idempotencyKey,
      from,
      to: status,
      fields: { verifiedAt: at, detail: { escalated: reason } },
    },
    incidentPath: ['escalated'],
    releaseLease: true,
    audit: [
      {
        actor: verifySource,
        action: 'escalate',
        inputs: { key: step.idempotencyKey, action: step.action },
        result: 'escalated',
        detail: { reason },
      },
    ],
    envelopes: [stepEscalation(step, verifySource, causationId, reason, at)],
  };
}
