import {
  CloudWatchClient,
  type CloudWatchClientConfig,
  ListTagsForResourceCommand,
} from '@aws-sdk/client-cloudwatch';
import { AwsSmithyRpcV2CborProtocol } from '@aws-sdk/core/protocols';
import type { AlarmTagReader } from '../domain/ports.ts';
import { clientDefaults } from './aws-clients.ts';

export function createCloudWatchClient(): CloudWatchClient {
  return new CloudWatchClient(clientDefaults);
}

/**
 * A client for metric data. CloudWatch speaks JSON 1.0, Smithy RPC v2 CBOR and
 * query; this one uses CBOR, which carries timestamps as typed epoch values —
 * the emulator's JSON answers for GetMetricData send ISO strings the SDK rejects.
 */
export function createCloudWatchMetricsClient(config: CloudWatchClientConfig = {}): CloudWatchClient {
  return new CloudWatchClient({ ...clientDefaults, ...config, protocol: AwsSmithyRpcV2CborProtocol });
}

/** Alarm tags, cached per alarm for a few minutes: alarm storms ask about the same alarms. */
export class CloudWatchAlarmTagReader implements AlarmTagReader {
  private readonly cache = new Map<string, { tags: Record<string, string>; until: number }>();

  constructor(
    private readonly client: CloudWatchClient,
    private readonly ttlMs = 5 * 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  async tagsOf(alarmArn: string): Promise<Record<string, string>> {
    const hit = this.cache.get(alarmArn);
    if (hit && hit.until > this.now()) return hit.tags;
    const out = await this.client.send(new ListTagsForResourceCommand({ ResourceARN: alarmArn }));
    const tags = Object.fromEntries((out.Tags ?? []).map((t) => [t.Key ?? '', t.Value ?? '']));
    this.cache.set(alarmArn, { tags, until: this.now() + this.ttlMs });
    return tags;
  }
}
