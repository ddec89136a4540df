import { DescribeServicesCommand, DescribeTaskDefinitionCommand, type ECSClient } from '@aws-sdk/client-ecs';
import type { ServiceState } from '../domain/actions.ts';
import type { WatchedServiceRecord } from '../domain/ports.ts';
import type { ServiceRef } from '../domain/signal.ts';

/** `family:revision` from a task-definition ARN (or the value itself when it is already short). */
export const shortRevision = (arn: string) => arn.replace(/^.*task-definition\//, '');

/**
 * What the planner and the policy need to know about a service: ECS's view
 * (counts, revision, its memory, the deployment configuration), the
 * registry's bounds and the last known-good revision. Null when ECS does not
 * know the service or it is not watched.
 */
export class ServiceStateReader {
  constructor(
    private readonly ecs: ECSClient,
    private readonly registry: { watchedService(ref: ServiceRef): Promise<WatchedServiceRecord | null> },
    private readonly knownGood: (ref: ServiceRef, running: string | null) => Promise<string | null>,
  ) {}

  async read(ref: ServiceRef): Promise<ServiceState | null> {
    const [watched, described] = await Promise.all([
      this.registry.watchedService(ref),
      this.ecs.send(new DescribeServicesCommand({ cluster: ref.cluster, services: [ref.service] })),
    ]);
    const service = described.services?.[0];
    if (!watched || !service || service.status !== 'ACTIVE') return null;
    const running = service.taskDefinition ? shortRevision(service.taskDefinition) : null;
    const [td, lastKnownGood] = await Promise.all([
      service.taskDefinition
        ? this.ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: service.taskDefinition }))
        : Promise.resolve(null),
      this.knownGood(ref, running),
    ]);
    const memory = td?.taskDefinition?.memory ?? td?.taskDefinition?.containerDefinitions?.[0]?.memory;
    return {
      cluster: ref.cluster,
      service: ref.service,
      desiredCount: service.desiredCount ?? 0,
      runningCount: service.runningCount ?? 0,
      minTasks: watched.minTasks,
      maxTasks: watched.maxTasks,
      taskDefinition: running,
      lastKnownGood,
      memoryMiB: memory === undefined ? null : Number(memory),
      // ECS's default for a rolling update keeps every task serving while new ones start.
      minimumHealthyPercent: service.deploymentConfiguration?.minimumHealthyPercent ?? 100,
      // Unconfigured: the actions that need them are refused.
      fallback: watched.fallback ?? null,
      maintenanceTasks: watched.maintenanceTasks ?? [],
      secrets: watched.secrets ?? [],
    };
  }
}
