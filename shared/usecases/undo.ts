/**
 * Undoing a remediation step, and ending one its act agent abandoned — the
 * one place that decides whether Homeostat may put a service back: never
 * while the kill switch is engaged, never over a change someone else made
 * since the action, never by guessing.
 */
import { ServiceGoneError } from '../domain/errors.ts';
import type { Clock, EventPublisher } from '../domain/ports.ts';
import {
  alreadyRestored,
  changedSince,
  IrreversibleActionError,
  intendedAfter,
  type PreState,
  parametersToSnapshot,
  undoOperations,
} from '../domain/remediation.ts';
import { type KillSwitch, publishPending, stepEscalation } from './remediation-context.ts';
import type { RemediationStep, RemediationStore, Remediator } from './remediation-ports.ts';

/**
 * Undoes a step from its pre-state snapshot, unless that would overrule
 * someone: refused (with the reason a human reads) while the kill switch is
 * engaged, when the service no longer holds what the action left (`after`:
 * a person deployed or scaled since), when no reading after the action
 * exists to prove that, or when the action cannot be undone. A service
 * already back at its pre-state (an undo that ran before a crash) needs
 * nothing. An ECS error during the undo is a refusal too: the incident goes
 * to humans rather than retrying an undo over a service in flux.
 */
export async function undoStep(
  step: RemediationStep,
  after: PreState | null | undefined,
  deps: { killSwitch: KillSwitch; remediator: Remediator },
): Promise<{ operations: string[]; refused: string | null }> {
  const refuse = (refused: string) => ({ operations: [], refused });
  const kill = await deps.killSwitch.read();
  if (kill.engaged)
    return refuse(
      `the kill switch is engaged${kill.reason ? ` (${kill.reason})` : ''}: Homeostat changes nothing, not even an undo`,
    );
  let operations: ReturnType<typeof undoOperations>;
  try {
    operations = undoOperations(step.action, step.parameters, step.snapshot);
  } catch (error) {
    if (error instanceof IrreversibleActionError) return refuse(error.message);
    throw error;
  }
  if (operations.length === 0 || !step.snapshot) return { operations: [], refused: null };
  try {
    const now = await deps.remediator.snapshot(
      step.service,
      parametersToSnapshot(step.action, step.parameters),
    );
    if (alreadyRestored(step.action, step.parameters, step.snapshot, now))
      return {
        operations: ['the service already holds its pre-action state: nothing to undo'],
        refused: null,
      };
    if (!after)
      return refuse(
        'the state the action left was never read, so an undo could overwrite a change someone else made since',
      );
    const changed = changedSince(step.action, step.parameters, after, now);
    if (changed.length > 0)
      return refuse(
        `the service changed after the action (${changed.join('; ')}): someone else acted since, and an undo would overwrite it`,
      );
    return { operations: await deps.remediator.apply(step.service, operations), refused: null };
  } catch (error) {
    if (error instanceof ServiceGoneError) return refuse(error.message);
    return refuse(`the undo failed: ${(error as Error).message}`);
  }
}

/**
 * Ends a step left `executing` by an act agent that never finished (it
 * timed out or crashed, and no retry will come in time): what it may have
 * done is undone from the snapshot — only when the service holds exactly
 * what the action meant to set, so never over someone else's change — and
 * the incident goes to humans with what happened and what to check.
 * Without a snapshot nothing was applied (it is stored first). Guarded: a
 * step that moved on meanwhile is left alone. Returns the escalation reason,
 * or null when another delivery or sweep got there first.
 */
export async function abandonStep(
  step: RemediationStep,
  source: string,
  deps: {
    store: RemediationStore;
    killSwitch: KillSwitch;
    remediator: Remediator;
    bus: EventPublisher;
    clock: Clock;
  },
): Promise<string | null> {
  const now = deps.clock.now();
  const dryRun = step.detail.dryRun === true;
  const undo =
    dryRun || !step.snapshot
      ? { operations: [], refused: null }
      : await undoStep(step, intendedAfter(step.action, step.parameters, step.snapshot), deps);
  const outcome = undo.refused
    ? `not undone: ${undo.refused}`
    : undo.operations.length > 0
      ? `undone (${undo.operations.join('; ')})`
      : dryRun
        ? 'it was a dry run: nothing was changed'
        : 'nothing had been changed';
  const service = `${step.service.cluster}/${step.service.service}`;
  const reason =
    `the act agent started ${step.action} (step ${step.step}) at ${step.updatedAt.toISOString()} and never finished; ` +
    `${outcome}. Check ${service}'s deployments and desired count, then decide what it needs.`;
  const causationId = `${step.idempotencyKey}:abandoned`;
  const committed = await deps.store.commit({
    incidentId: step.incidentId,
    at: now,
    causationId,
    moveStep: {
      key: step.idempotencyKey,
      from: ['executing'],
      to: 'failed',
      fields: { undone: !undo.refused && undo.operations.length > 0, detail: { abandoned: reason } },
    },
    incidentPath: ['escalated'],
    releaseLease: true,
    audit: [
      {
        actor: source,
        action: 'action.abandoned',
        inputs: { key: step.idempotencyKey, action: step.action, parameters: step.parameters },
        result: 'escalated',
        detail: { reason, operations: undo.operations, refused: undo.refused },
      },
    ],
    timeline: [{ kind: 'act:abandoned', detail: { step: step.step, action: step.action, reason } }],
    envelopes: [stepEscalation(step, source, causationId, reason, now)],
  });
  await publishPending(deps, causationId);
  return committed === 'committed' ? reason : null;
}
