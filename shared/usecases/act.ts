/**
 * The act agent's use-case: plan.approved → the policy checked again (the
 * kill switch may have been engaged since) → the pre-state snapshot stored →
 * the operations carried out (or, in observe mode, described) → audited
 * before and after → action.executed → verification scheduled. A step acts
 * at most once: its status moves planned → executing under a guard.
 */
import { HomeostatError, InvalidEventError } from '../domain/errors.ts';
import { isTerminal } from '../domain/incident.ts';
import { evaluate } from '../domain/policy.ts';
import type { Clock, EventPublisher } from '../domain/ports.ts';
import {
  type Operation,
  operationsFor,
  type PreState,
  parametersToSnapshot,
  undoOperations,
} from '../domain/remediation.ts';
import type { ServiceRef } from '../domain/signal.ts';
import type { HealthReading } from '../domain/verification.ts';
import { parseBusEvent } from '../events/bus-event.ts';
import {
  type ActionExecutedData,
  planApprovedDataSchema,
  type RemediationFailedData,
  type VerificationDueData,
} from '../events/catalog.ts';
import { detailTypes } from '../events/detail-types.ts';
import { buildEnvelope, type Envelope } from '../events/envelope.ts';
import {
  type PolicyInputs,
  policyContextFor,
  publishPending,
  stepEscalation,
} from './remediation-context.ts';
import { idempotencyKey, type RemediationStep, type Remediator } from './remediation-ports.ts';
import { abandonStep } from './undo.ts';

export const actSource = 'homeostat.act';

export interface HealthReader {
  read(ref: ServiceRef): Promise<HealthReading>;
}

export interface VerificationScheduler {
  schedule(name: string, envelope: Envelope, at: Date): Promise<'created' | 'exists'>;
}

export interface ActDeps extends PolicyInputs {
  remediator: Remediator;
  health: HealthReader;
  scheduler: VerificationScheduler;
  scheduleName(incidentId: string, step: number, check: number): string;
  bus: EventPublisher;
  clock: Clock;
}

/** Another delivery is carrying the step out right now: retry later, never act twice. */
export class StepInProgressError extends HomeostatError {
  override readonly name = 'StepInProgressError';
}

export type ActResult =
  | {
      outcome: 'executed' | 'dry_run';
      incidentId: string;
      step: number;
      action: string;
      operations: string[];
    }
  | { outcome: 'escalated'; incidentId: string; step: number; reason: string }
  | { outcome: 'skipped'; incidentId: string; step: number; reason: string };

/** What an operation does, in words (the dry run's record). */
export function describeOperation(o: Operation): string {
  switch (o.op) {
    case 'set_desired_count':
      return `set the desired count to ${o.desiredCount}`;
    case 'deploy':
      return o.taskDefinition ? `deploy ${o.taskDefinition}` : 'force a new deployment';
    case 'deploy_with_memory':
      return `register the running revision with ${o.memoryMiB} MiB and deploy it`;
    case 'stop_task':
      return `stop ${o.taskArn}`;
    case 'run_task':
      return `run ${o.taskDefinition}`;
    case 'put_parameter':
      return o.value === null ? `delete parameter ${o.name}` : `set parameter ${o.name}`;
    case 'rotate_secret':
      return `rotate ${o.secretId}`;
  }
}

/** The verification.due envelope for check `check` of a step, and when it is due. */
export function verificationDue(
  step: RemediationStep,
  check: number,
  at: Date,
  causationId: string,
  source: string,
): Envelope<VerificationDueData> {
  return buildEnvelope<VerificationDueData>({
    type: detailTypes.verificationDue,
    source,
    time: at,
    incidentId: step.incidentId,
    correlationId: step.incidentId,
    causationId: `${causationId}:check-${check}`,
    data: {
      incidentId: step.incidentId,
      service: step.service,
      step: step.step,
      idempotencyKey: step.idempotencyKey,
      action: step.action,
      checkAt: at.toISOString(),
      attempt: check,
    },
  });
}

export async function executeAction(event: unknown, deps: ActDeps): Promise<ActResult> {
  const { envelope: cause } = parseBusEvent(event, { [detailTypes.planApproved]: planApprovedDataSchema });
  const { incidentId, step: stepNo } = cause.data;
  const key = idempotencyKey(incidentId, stepNo);
  const step = await deps.store.step(key);
  if (!step) throw new InvalidEventError(`remediation step ${key} does not exist`);
  if (step.action !== cause.data.action)
    throw new InvalidEventError(`step ${key} is ${step.action}, not ${cause.data.action}`);
  const now = deps.clock.now();
  const skipped = (reason: string): ActResult => ({ outcome: 'skipped', incidentId, step: stepNo, reason });

  if (step.status !== 'planned') {
    if (step.status === 'executing') {
      if (now.getTime() - step.updatedAt.getTime() < deps.settings.sweep.abandonedStepMs)
        throw new StepInProgressError(`step ${key} is being carried out by another delivery`);
      // A crashed attempt may or may not have acted: undone where provably ours, and escalated (as the sweep does).
      const reason = await abandonStep(step, actSource, deps);
      return reason
        ? { outcome: 'escalated', incidentId, step: stepNo, reason }
        : skipped('another delivery ended the abandoned step');
    }
    if ((step.status === 'executed' || step.status === 'dry_run') && step.checks === 0 && step.verifyAt)
      await scheduleCheck(step, 1, step.verifyAt, cause.id, deps);
    await publishPending(deps, cause.id);
    return skipped(`step is ${step.status}`);
  }

  const incident = await deps.store.incident(incidentId);
  if (!incident) throw new InvalidEventError(`incident ${incidentId} does not exist`);
  if (isTerminal(incident.state)) {
    // Closed meanwhile (recovered on its own, closed by a person): the plan no longer applies.
    const reason = `incident is ${incident.state}`;
    await deps.store.commit({
      incidentId,
      at: now,
      causationId: cause.id,
      moveStep: { key, from: ['planned'], to: 'failed', fields: { detail: { cancelled: reason } } },
      audit: [
        {
          actor: actSource,
          action: 'action.cancelled',
          inputs: { key, action: step.action, parameters: step.parameters },
          result: 'cancelled',
          detail: { reason },
        },
      ],
    });
    return skipped(reason);
  }
  const context = await policyContextFor(incident, now, deps);
  const decision = context.ok ? evaluate(step.action, step.parameters, context.ctx) : null;
  const approvedByHuman = step.mode === 'approve' && cause.data.approvedBy !== null;
  const refusal = !context.ok
    ? context.reason
    : decision?.verdict === 'deny'
      ? decision.reasons.join('; ')
      : decision?.verdict === 'approve' && !approvedByHuman
        ? `${step.action} now needs a human's approval`
        : null;
  if (refusal) {
    const committed = await deps.store.commit({
      incidentId,
      at: now,
      causationId: cause.id,
      moveStep: { key, from: ['planned'], to: 'failed', fields: { detail: { refused: refusal } } },
      incidentPath: ['escalated'],
      releaseLease: true,
      audit: [
        {
          actor: actSource,
          action: 'policy.recheck',
          inputs: { key, action: step.action, parameters: step.parameters },
          result: 'refused',
          detail: { reason: refusal, decision },
        },
      ],
      timeline: [{ kind: 'act:refused', detail: { step: stepNo, action: step.action, reason: refusal } }],
      envelopes: [
        stepEscalation(
          step,
          actSource,
          cause.id,
          `the policy refused ${step.action} at the moment of acting: ${refusal}`,
          now,
        ),
      ],
    });
    await publishPending(deps, cause.id);
    return committed === 'duplicate'
      ? skipped('another delivery handled the step')
      : { outcome: 'escalated', incidentId, step: stepNo, reason: refusal };
  }

  const dryRun = step.mode === 'observe' || (decision?.verdict === 'allow' && decision.mode === 'observe');
  const operations = operationsFor(step.action, step.parameters);
  const claimed = await deps.store.commit({
    incidentId,
    at: now,
    causationId: cause.id,
    moveStep: { key, from: ['planned'], to: 'executing', fields: { detail: { dryRun } } },
    // Observe mode touches nothing, so the incident does not enter acting (it may still self-resolve).
    incidentPath: dryRun ? [] : ['acting'],
    audit: [
      {
        actor: actSource,
        action: dryRun ? 'action.dry_run.started' : 'action.started',
        inputs: { key, action: step.action, parameters: step.parameters, approvedBy: cause.data.approvedBy },
        result: 'started',
        detail: { operations: operations.map(describeOperation), decision },
      },
    ],
  });
  if (claimed === 'duplicate') {
    await publishPending(deps, cause.id);
    return skipped('another delivery claimed the step');
  }

  let done: string[];
  try {
    const snapshot: PreState = {
      ...(await deps.remediator.snapshot(step.service, parametersToSnapshot(step.action, step.parameters))),
      health: await deps.health.read(step.service),
    };
    await deps.store.moveStep(key, ['executing'], 'executing', { snapshot });
    step.snapshot = snapshot;
    done = dryRun
      ? operations.map((o) => `would ${describeOperation(o)}`)
      : await deps.remediator.apply(step.service, operations);
  } catch (error) {
    if (!(error instanceof HomeostatError) && !isClientError(error)) throw error;
    // A refusal by ECS (or a service that vanished) will not change on retry: put back what was done, escalate.
    const reason = `${step.action} failed: ${(error as Error).message}`;
    const undone = dryRun ? false : await bestEffortUndo(step, deps);
    await deps.store.commit({
      incidentId,
      at: deps.clock.now(),
      causationId: cause.id,
      moveStep: { key, from: ['executing'], to: 'failed', fields: { undone, detail: { error: reason } } },
      incidentPath: ['escalated'],
      releaseLease: true,
      audit: [
        {
          actor: actSource,
          action: 'action.failed',
          inputs: { key, action: step.action, parameters: step.parameters },
          result: 'error',
          detail: { reason, undone },
        },
      ],
      timeline: [{ kind: 'act:failed', detail: { step: stepNo, action: step.action, reason, undone } }],
      envelopes: [
        buildEnvelope<RemediationFailedData>({
          type: detailTypes.remediationFailed,
          source: actSource,
          time: deps.clock.now(),
          incidentId,
          correlationId: incidentId,
          causationId: cause.id,
          data: {
            incidentId,
            service: step.service,
            step: stepNo,
            action: step.action,
            outcome: 'error',
            reason,
            undone,
          },
        }),
        stepEscalation(step, actSource, cause.id, reason, deps.clock.now()),
      ],
    });
    await publishPending(deps, cause.id);
    return { outcome: 'escalated', incidentId, step: stepNo, reason };
  }
  // What the action left: an undo later runs only while the service still holds it (no one changed it since).
  const after = dryRun ? null : await readAfter(step, deps);
  await finish(step, cause, done, dryRun, deps.clock.now(), deps, after ? { after } : {});
  return {
    outcome: dryRun ? 'dry_run' : 'executed',
    incidentId,
    step: stepNo,
    action: step.action,
    operations: done,
  };
}

/** Records the step executed (or dry-run), schedules its first check and publishes. */
async function finish(
  step: RemediationStep,
  cause: Envelope,
  operations: string[],
  dryRun: boolean,
  at: Date,
  deps: ActDeps,
  detail: Record<string, unknown>,
) {
  const verifyAt = new Date(at.getTime() + deps.settings.verification.settleMs);
  const incidentId = step.incidentId;
  // The state after the action is kept on the step for the undo; the audit and timeline say what was done.
  const { after: _after, ...shown } = detail;
  const executed = buildEnvelope<ActionExecutedData>({
    type: detailTypes.actionExecuted,
    source: actSource,
    time: at,
    incidentId,
    correlationId: incidentId,
    causationId: cause.id,
    data: {
      incidentId,
      service: step.service,
      step: step.step,
      action: step.action,
      parameters: step.parameters,
      idempotencyKey: step.idempotencyKey,
      dryRun,
      operations,
      executedAt: at.toISOString(),
      verifyAt: verifyAt.toISOString(),
    },
  });
  const committed = await deps.store.commit({
    incidentId,
    at,
    causationId: cause.id,
    moveStep: {
      key: step.idempotencyKey,
      from: ['executing'],
      to: dryRun ? 'dry_run' : 'executed',
      fields: { executedAt: at, verifyAt, detail: { operations, ...detail } },
    },
    incidentPath: dryRun ? [] : ['verifying'],
    audit: [
      {
        actor: actSource,
        action: dryRun ? 'action.dry_run' : 'action.executed',
        inputs: { key: step.idempotencyKey, action: step.action, parameters: step.parameters },
        result: dryRun ? 'dry_run' : 'executed',
        detail: { operations, verifyAt: verifyAt.toISOString(), ...shown },
      },
    ],
    timeline: [
      {
        kind: dryRun ? 'act:dry_run' : 'act:executed',
        detail: { step: step.step, action: step.action, parameters: step.parameters, operations, ...shown },
      },
    ],
    envelopes: [executed],
  });
  if (committed === 'committed') await scheduleCheck(step, 1, verifyAt, cause.id, deps);
  await publishPending(deps, cause.id);
}

async function scheduleCheck(step: RemediationStep, check: number, at: Date, causeId: string, deps: ActDeps) {
  const due = verificationDue(step, check, at, causeId, actSource);
  await deps.scheduler.schedule(deps.scheduleName(step.incidentId, step.step, check), due, at);
}

/** An AWS error the caller caused (4xx): retrying it cannot help. Throttling is retried by the SDK first. */
function isClientError(error: unknown): boolean {
  const meta = (error as { $metadata?: { httpStatusCode?: number }; $fault?: string }) ?? {};
  return meta.$fault === 'client' && (meta.$metadata?.httpStatusCode ?? 0) < 500;
}

/** The service right after the action; null when it cannot be read (the undo then checks the pre-state only). */
async function readAfter(step: RemediationStep, deps: ActDeps): Promise<PreState | null> {
  try {
    return await deps.remediator.snapshot(step.service, parametersToSnapshot(step.action, step.parameters));
  } catch {
    return null;
  }
}

/** Puts back what a half-applied action changed, from the snapshot; true when it could. */
async function bestEffortUndo(step: RemediationStep, deps: ActDeps): Promise<boolean> {
  // No snapshot: the failure came before anything was applied.
  if (!step.snapshot) return false;
  try {
    await deps.remediator.apply(step.service, undoOperations(step.action, step.parameters, step.snapshot));
    return true;
  } catch {
    return false;
  }
}
