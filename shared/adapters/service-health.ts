import { type CloudWatchClient, DescribeAlarmsCommand } from '@aws-sdk/client-cloudwatch';
import { DescribeServicesCommand, type ECSClient } from '@aws-sdk/client-ecs';
import { ServiceGoneError } from '../domain/errors.ts';
import type { ServiceRef } from '../domain/signal.ts';
import type { HealthReading } from '../domain/verification.ts';
import { shortRevision } from './service-state.ts';

/**
 * The service's health as verification reads it: its alarms in ALARM (found
 * by the registry's alarm-name prefixes) and ECS's counts and rollout state.
 * Throws ServiceGoneError when the service no longer exists.
 */
export class ServiceHealthReader {
  constructor(
    private readonly ecs: ECSClient,
    private readonly cloudwatch: CloudWatchClient,
    private readonly alarmPrefixesOf: (ref: ServiceRef) => Promise<string[]>,
  ) {}

  async read(ref: ServiceRef): Promise<HealthReading> {
    const [described, alarmsInAlarm] = await Promise.all([
      this.ecs.send(new DescribeServicesCommand({ cluster: ref.cluster, services: [ref.service] })),
      this.alarmsInAlarm(ref),
    ]);
    const service = described.services?.[0];
    if (service?.status !== 'ACTIVE')
      throw new ServiceGoneError(`${ref.cluster}/${ref.service} no longer exists`);
    const primary = service.deployments?.find((d) => d.status === 'PRIMARY');
    return {
      alarmsInAlarm,
      runningCount: service.runningCount ?? 0,
      desiredCount: service.desiredCount ?? 0,
      // ECS marks the primary deployment COMPLETED once the service reached steady state on it.
      rolloutCompleted: primary !== undefined && (primary.rolloutState ?? 'COMPLETED') === 'COMPLETED',
      taskDefinition: service.taskDefinition ? shortRevision(service.taskDefinition) : null,
    };
  }

  /** The service's alarms (its registered prefixes) in ALARM, by name. */
  async alarmsInAlarm(ref: ServiceRef): Promise<string[]> {
    const names = new Set<string>();
    for (const prefix of await this.alarmPrefixesOf(ref)) {
      let token: string | undefined;
      do {
        const out = await this.cloudwatch.send(
          new DescribeAlarmsCommand({ AlarmNamePrefix: prefix, StateValue: 'ALARM', NextToken: token }),
        );
        for (const a of [...(out.MetricAlarms ?? []), ...(out.CompositeAlarms ?? [])])
          if (a.AlarmName) names.add(a.AlarmName);
        token = out.NextToken;
      } while (token);
    }
    return [...names].sort();
  }
}
