/**
 * What executing or undoing an action does to a service, as operations the
 * ECS adapter carries out — decided here, from the action and the pre-state
 * snapshot taken just before. Pure.
 */
import type { ActionParameters } from './actions.ts';
import type { CatalogAction } from './taxonomy.ts';
import type { HealthReading } from './verification.ts';

/** The service as it was before an action: enough to put it back. */
export interface PreState {
  cluster: string;
  service: string;
  desiredCount: number;
  /** Full ARN of the running revision. */
  taskDefinition: string;
  deploymentConfiguration: { minimumHealthyPercent: number | null; maximumPercent: number | null } | null;
  /** Values of the parameters an action may change (null: the parameter did not exist). */
  parameters: Record<string, string | null>;
  /** Alarms and counts just before the action: what verification compares with. */
  health?: HealthReading | null;
}

export type Operation =
  | { op: 'set_desired_count'; desiredCount: number }
  /** Deploy `taskDefinition` (or redeploy the running one when null). */
  | { op: 'deploy'; taskDefinition: string | null }
  /** Register a copy of the running revision with more memory, then deploy it. */
  | { op: 'deploy_with_memory'; memoryMiB: number }
  | { op: 'stop_task'; taskArn: string }
  | { op: 'run_task'; taskDefinition: string }
  | { op: 'put_parameter'; name: string; value: string | null }
  | { op: 'rotate_secret'; secretId: string };

export class IrreversibleActionError extends Error {
  override readonly name = 'IrreversibleActionError';
}

/** The operations that carry out `action` (its parameters already passed the catalog's check). */
export function operationsFor(action: CatalogAction, parameters: ActionParameters): Operation[] {
  const str = (key: string) => String(parameters[key]);
  const num = (key: string) => Number(parameters[key]);
  switch (action) {
    case 'restart_service':
      return [{ op: 'deploy', taskDefinition: null }];
    case 'scale_out':
    case 'scale_in':
      return [{ op: 'set_desired_count', desiredCount: num('desiredCount') }];
    case 'rollback_task_definition':
      return [{ op: 'deploy', taskDefinition: str('taskDefinition') }];
    case 'increase_memory':
      return [{ op: 'deploy_with_memory', memoryMiB: num('memoryMiB') }];
    case 'stop_task':
      return [{ op: 'stop_task', taskArn: str('taskArn') }];
    case 'run_task':
      return [{ op: 'run_task', taskDefinition: str('taskDefinition') }];
    case 'switch_to_fallback':
      return [
        { op: 'put_parameter', name: str('parameterName'), value: str('value') },
        { op: 'deploy', taskDefinition: null },
      ];
    case 'rotate_secret_and_redeploy':
      return [
        { op: 'rotate_secret', secretId: str('secretId') },
        { op: 'deploy', taskDefinition: null },
      ];
    case 'escalate':
    case 'none':
      return [];
  }
}

/** The parameters whose values the snapshot must keep for `action` to be undone. */
export function parametersToSnapshot(action: CatalogAction, parameters: ActionParameters): string[] {
  return action === 'switch_to_fallback' && typeof parameters.parameterName === 'string'
    ? [parameters.parameterName]
    : [];
}

/**
 * The operations that put the service back as the snapshot found it. Empty
 * when there is nothing to restore (a restart, a stopped task the scheduler
 * replaced); throws for an action that cannot be undone, or when the
 * snapshot it needs is missing.
 */
export function undoOperations(
  action: CatalogAction,
  parameters: ActionParameters,
  snapshot: PreState | null,
): Operation[] {
  // Only the snapshot knows what to restore; without one, guessing would be another change.
  const before = () => {
    if (!snapshot) throw new IrreversibleActionError('no pre-state snapshot was recorded');
    return snapshot;
  };
  switch (action) {
    case 'scale_out':
    case 'scale_in':
      return [{ op: 'set_desired_count', desiredCount: before().desiredCount }];
    case 'rollback_task_definition':
    case 'increase_memory':
      return [{ op: 'deploy', taskDefinition: before().taskDefinition }];
    case 'switch_to_fallback': {
      const name = String(parameters.parameterName);
      const { parameters: values, taskDefinition } = before();
      if (!(name in values))
        throw new IrreversibleActionError(`the snapshot has no value of ${name} to restore`);
      return [
        { op: 'put_parameter', name, value: values[name] ?? null },
        { op: 'deploy', taskDefinition },
      ];
    }
    case 'rotate_secret_and_redeploy':
      throw new IrreversibleActionError('a rotated secret cannot be un-rotated');
    case 'restart_service':
    case 'stop_task':
    case 'run_task':
    case 'escalate':
    case 'none':
      return [];
  }
}

/** What an action sets on the service, read from a snapshot: the values its undo would overwrite. */
function effectOf(
  action: CatalogAction,
  parameters: ActionParameters,
  state: PreState,
): Record<string, unknown> {
  switch (action) {
    case 'scale_out':
    case 'scale_in':
      return { 'desired count': state.desiredCount };
    case 'rollback_task_definition':
    case 'increase_memory':
      return { 'task definition': state.taskDefinition };
    case 'switch_to_fallback': {
      const name = String(parameters.parameterName);
      return {
        [`parameter ${name}`]: state.parameters[name] ?? null,
        'task definition': state.taskDefinition,
      };
    }
    default:
      return {};
  }
}

/**
 * Where the service no longer holds what the action set: someone (a person, a
 * pipeline, an autoscaler) changed it after the action. `after` was read right
 * after the action, `now` just before an undo. Each entry reads
 * "<field> is <now>, the action left <after>"; empty when the action's effect
 * is still in place. An undo must not run over such a change.
 */
export function changedSince(
  action: CatalogAction,
  parameters: ActionParameters,
  after: PreState,
  now: PreState,
): string[] {
  const set = effectOf(action, parameters, after);
  const current = effectOf(action, parameters, now);
  return Object.keys(set)
    .filter((field) => !sameValue(current[field], set[field]))
    .map((field) => `${field} is ${String(current[field])}, the action left ${String(set[field])}`);
}

/** The service holds the pre-state again on every field the action set: an undo already ran. */
export function alreadyRestored(
  action: CatalogAction,
  parameters: ActionParameters,
  before: PreState,
  now: PreState,
): boolean {
  const was = effectOf(action, parameters, before);
  const current = effectOf(action, parameters, now);
  const fields = Object.keys(was);
  return fields.length > 0 && fields.every((field) => sameValue(current[field], was[field]));
}

/** Equal, or one a task definition ARN and the other its `family:revision`. */
const sameValue = (a: unknown, b: unknown) =>
  a === b || (typeof a === 'string' && typeof b === 'string' && (a.endsWith(`/${b}`) || b.endsWith(`/${a}`)));

/**
 * The state the action would have left, derived from the pre-state and its
 * parameters — for a step whose own reading after the action was never taken
 * (the act agent stopped mid-way). Null when the parameters do not say it
 * (a memory increase registers a revision whose ARN only ECS knows).
 */
export function intendedAfter(
  action: CatalogAction,
  parameters: ActionParameters,
  before: PreState,
): PreState | null {
  switch (action) {
    case 'scale_out':
    case 'scale_in':
      return { ...before, desiredCount: Number(parameters.desiredCount) };
    case 'rollback_task_definition':
      return { ...before, taskDefinition: String(parameters.taskDefinition) };
    case 'switch_to_fallback': {
      const name = String(parameters.parameterName);
      return { ...before, parameters: { ...before.parameters, [name]: String(parameters.value) } };
    }
    case 'increase_memory':
      return null;
    default:
      return before;
  }
}
