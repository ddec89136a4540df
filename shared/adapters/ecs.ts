import { DescribeServicesCommand, ECSClient } from '@aws-sdk/client-ecs';
import type { EcsServiceReader } from '../domain/ports.ts';
import type { ServiceRef, ServiceSnapshot } from '../domain/signal.ts';
import { clientDefaults } from './aws-clients.ts';

export function createEcsClient(): ECSClient {
  return new ECSClient(clientDefaults);
}

export class EcsServiceReaderAdapter implements EcsServiceReader {
  constructor(private readonly client: ECSClient) {}

  async describeService(ref: ServiceRef): Promise<ServiceSnapshot | null> {
    const out = await this.client.send(
      new DescribeServicesCommand({ cluster: ref.cluster, services: [ref.service] }),
    );
    const service = out.services?.[0];
    if (!service) return null;
    return {
      status: service.status ?? 'UNKNOWN',
      desiredCount: service.desiredCount ?? 0,
      runningCount: service.runningCount ?? 0,
      pendingCount: service.pendingCount ?? 0,
      taskDefinition: service.taskDefinition ?? null,
    };
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
}
