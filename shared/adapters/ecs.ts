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
