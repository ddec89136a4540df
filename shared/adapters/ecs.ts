import { DescribeServicesCommand, ECSClient } from '@aws-sdk/client-ecs';
import type { EcsServiceReader } from '../domain/ports.ts';
import type { ServiceRef, ServiceSnapshot } from '../domain/signal.ts';
import type { ServiceDeployment } from '../domain/steady-revision.ts';
import { clientDefaults } from './aws-clients.ts';
import { shortRevision } from './service-state.ts';

export function createEcsClient(): ECSClient {
  return new ECSClient(clientDefaults);
}

export class EcsServiceReaderAdapter implements EcsServiceReader {
  constructor(private readonly client: ECSClient) {}

  private async describe(ref: ServiceRef) {
    const out = await this.client.send(
      new DescribeServicesCommand({ cluster: ref.cluster, services: [ref.service] }),
    );
    return out.services?.[0] ?? null;
  }

  async describeService(ref: ServiceRef): Promise<ServiceSnapshot | null> {
    const service = await this.describe(ref);
    if (!service) return null;
    return {
      status: service.status ?? 'UNKNOWN',
      desiredCount: service.desiredCount ?? 0,
      runningCount: service.runningCount ?? 0,
      pendingCount: service.pendingCount ?? 0,
      taskDefinition: service.taskDefinition ?? null,
    };
  }

  /**
   * The service's deployments from DescribeServices (Amazon ECS API Reference,
   * "Deployment": id, status PRIMARY/ACTIVE/INACTIVE, taskDefinition, rolloutState,
   * createdAt), task definitions in `family:revision` form. A deployment without an id or
   * a task definition is left out.
   */
  async deployments(ref: ServiceRef): Promise<ServiceDeployment[] | null> {
    const service = await this.describe(ref);
    if (!service) return null;
    return (service.deployments ?? []).flatMap((d) =>
      d.id && d.taskDefinition
        ? [
            {
              id: d.id,
              status: d.status ?? 'UNKNOWN',
              taskDefinition: shortRevision(d.taskDefinition),
              rolloutState: d.rolloutState ?? null,
              createdAt: d.createdAt ?? null,
            },
          ]
        : [],
    );
  }
}

/** Service snapshots cached briefly, so an alarm storm describes each service once, not per signal. */
export class CachedEcsServiceReader implements EcsServiceReader {
  private readonly cache = new Map<string, { value: ServiceSnapshot | null; until: number }>();

  constructor(
    private readonly inner: EcsServiceReader,
    private readonly ttlMs = 30_000,
    private readonly now: () => number = Date.now,
  ) {}

  async describeService(ref: ServiceRef): Promise<ServiceSnapshot | null> {
    const key = `${ref.cluster}/${ref.service}`;
    const hit = this.cache.get(key);
    if (hit && hit.until > this.now()) return hit.value;
    const value = await this.inner.describeService(ref);
    this.cache.set(key, { value, until: this.now() + this.ttlMs });
    return value;
  }

  /** Not cached: read only for the rare steady-state events, and it must be current. */
  deployments(ref: ServiceRef): Promise<ServiceDeployment[] | null> {
    return this.inner.deployments(ref);
  }
}
