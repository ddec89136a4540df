import type { Signal } from './signal.ts';

/** A deployment of a service as ECS DescribeServices lists it (what perception reads of it). */
export interface ServiceDeployment {
  id: string;
  /** `PRIMARY` (the newest), `ACTIVE` (an older one still running tasks), `INACTIVE`. */
  status: string;
  /** `family:revision` (shortRevision), the form steady_revisions and rollbacks use. */
  taskDefinition: string;
  /** `COMPLETED`, `IN_PROGRESS` or `FAILED`; null when ECS reports none. */
  rolloutState: string | null;
  createdAt: Date | null;
}

/**
 * Whether the signal is ECS saying the service ran steadily at the signal's time:
 *
 * - ECS Service Action `SERVICE_STEADY_STATE`: "The service is healthy and at the desired
 *   number of tasks, thus reaching a steady state. The service scheduler reports the status
 *   periodically, so you might receive this message multiple times" (Amazon ECS Developer
 *   Guide, "Amazon ECS service action events") — repeated reports extend the steady period;
 * - ECS Deployment State Change `SERVICE_DEPLOYMENT_COMPLETED`: "The service deployment has
 *   completed successfully" (same guide, "Amazon ECS deployment state change events").
 *
 * Only a signal classified as a recovery counts (a completed rollback reads as a fault and
 * is left to verification).
 */
export function provesSteady(signal: Pick<Signal, 'kind' | 'name' | 'classification'>): boolean {
  if (signal.classification !== 'recovery') return false;
  return (
    (signal.kind === 'service_action' && signal.name === 'SERVICE_STEADY_STATE') ||
    (signal.kind === 'deployment' && signal.name === 'SERVICE_DEPLOYMENT_COMPLETED')
  );
}

/**
 * The revision the service ran steadily at the signal's time, from the deployments ECS
 * lists now (the events do not name the task definition), or null when they cannot say
 * so for certain — a wrong "known good" revision would make a later rollback harmful,
 * a missing one only makes it unavailable.
 *
 * - A completed deployment: the deployment the event names (`deploymentId`), unless its
 *   rollout failed. ECS keeps it listed while it is PRIMARY or still draining (ACTIVE);
 *   once gone it is not guessed.
 * - A steady state: the one deployment that existed at the event's time (created at or
 *   before it). A deployment created after the event is not what ran then; two or more
 *   that existed then mean a rollout was under way, so which one was steady is unclear.
 */
export function steadyRevisionAt(
  signal: Pick<Signal, 'kind' | 'name' | 'classification' | 'occurredAt' | 'attributes'>,
  deployments: readonly ServiceDeployment[],
): string | null {
  if (!provesSteady(signal)) return null;
  const usable = (d: ServiceDeployment | undefined) =>
    d && d.status !== 'INACTIVE' && d.rolloutState !== 'FAILED' ? d.taskDefinition : null;
  if (signal.kind === 'deployment') {
    const id = signal.attributes.deploymentId;
    return typeof id === 'string' && id ? usable(deployments.find((d) => d.id === id)) : null;
  }
  const existing = deployments.filter(
    (d) => d.status !== 'INACTIVE' && (d.createdAt === null || d.createdAt <= signal.occurredAt),
  );
  return existing.length === 1 ? usable(existing[0]) : null;
}
