/**
 * Undoing a remediation step, and ending one its act agent abandoned — the
 * one place that decides whether Homeostat may put a service back: never
 * while the kill switch is engaged, never over a change someone else made
 * since the action, never by guessing (an abandoned step is never undone).
 */
import { ServiceGoneError } from '../domain/errors.ts';
import { isTerminal } from '../domain/incident.ts';
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
 * Ends a step left `executing` by an act agent that never finished (it timed
 * out or crashed, and no retry came in time): the step fails and the
 * incident goes to humans with what the service holds now. Nothing is undone:
 * without the agent's own reading after the action, a service that holds
 * what the action meant to set cannot be told from one a person set the same
 * way meanwhile (the same rollback, the same scale-out), and an undo would
 * run over that person. The action had passed the policy, so leaving it in
 * place is safe; the escalation says how to undo it by hand. Without a
 * snapshot nothing was applied (it is stored first). Guarded: a step that
 * moved on meanwhile is left alone. Returns the escalation reason, or null
 * when another delivery or sweep got there first.
 */
export async function abandonStep(
  step: RemediationStep,
  source: string,
  deps: {
    store: RemediationStore;
    remediator: Remediator;
    bus: EventPublisher;
    clock: Clock;
  },
): Promise<string | null> {
  const now = deps.clock.now();
  const outcome = await abandonedState(step, deps.remediator);
  const service = `${step.service.cluster}/${step.service.service}`;
  const reason =
    `the act agent started ${step.action} (step ${step.step}) at ${step.updatedAt.toISOString()} and never finished; ` +
    `${outcome}. Check ${service}'s deployments and desired count, then decide what it needs.`;
  const causationId = `${step.idempotencyKey}:abandoned`;
  const incident = await deps.store.incident(step.incidentId);
  const live = incident !== null && !isTerminal(incident.state);
  const committed = await deps.store.commit({
    incidentId: step.incidentId,
    at: now,
    causationId,
    moveStep: {
      key: step.idempotencyKey,
      from: ['executing'],
      to: 'failed',
      fields: { detail: { abandoned: reason } },
    },
    // A closed incident stays closed (a dry run's incident may have recovered on its own meanwhile).
    ...(live ? { incidentPath: ['escalated' as const], releaseLease: true } : {}),
    audit: [
      {
        actor: source,
        action: 'action.abandoned',
        inputs: { key: step.idempotencyKey, action: step.action, parameters: step.parameters },
        result: live ? 'escalated' : 'closed',
        detail: { reason },
      },
    ],
    timeline: [{ kind: 'act:abandoned', detail: { step: step.step, action: step.action, reason } }],
    envelopes: live ? [stepEscalation(step, source, causationId, reason, now)] : [],
  });
  await publishPending(deps, causationId);
  return committed === 'committed' ? reason : null;
}

/** What an abandoned step left, in words, read from the service against the snapshot and the action's intent. */
async function abandonedState(step: RemediationStep, remediator: Remediator): Promise<string> {
  if (step.detail.dryRun === true) return 'it was a dry run: nothing was changed';
  if (!step.snapshot) return 'nothing had been changed (it stopped before reading the service)';
  let now: PreState;
  try {
    now = await remediator.snapshot(step.service, parametersToSnapshot(step.action, step.parameters));
  } catch (error) {
    return `the service could not be read (${(error as Error).message})`;
  }
  if (undoOperations(step.action, step.parameters, step.snapshot).length === 0)
    return 'the action has nothing to undo';
  if (alreadyRestored(step.action, step.parameters, step.snapshot, now))
    return 'nothing had been changed: the service holds its pre-action state';
  const intended = intendedAfter(step.action, step.parameters, step.snapshot);
  if (intended && changedSince(step.action, step.parameters, intended, now).length === 0)
    return `the service holds what ${step.action} meant to set; whether this attempt or a person set it cannot be told, so it is left as is (to undo it by hand: ${describeRestore(step)})`;
  return 'the service holds neither its pre-action state nor what the action meant to set: someone else changed it, and it is left as is';
}

/** How to put the pre-state back by hand, from the snapshot. */
function describeRestore(step: RemediationStep): string {
  const s = step.snapshot;
  if (!s) return 'no snapshot';
  switch (step.action) {
    case 'scale_out':
    case 'scale_in':
      return `set the desired count back to ${s.desiredCount}`;
    case 'switch_to_fallback':
      return `set ${String(step.parameters.parameterName)} back to ${s.parameters[String(step.parameters.parameterName)] ?? '(deleted)'} and redeploy`;
    default:
      return `deploy ${s.taskDefinition} again`;
  }
}
