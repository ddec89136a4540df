import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { DependencyUnavailableError } from '../domain/errors.ts';
import type { EventPublisher } from '../domain/ports.ts';
import type { Envelope } from '../events/envelope.ts';
import { clientDefaults } from './aws-clients.ts';

export function createEventBridgeClient(): EventBridgeClient {
  return new EventBridgeClient(clientDefaults);
}

/** Publishes envelopes on the homeostat bus: detail-type = envelope type, source = envelope source. */
export class EventBridgePublisher implements EventPublisher {
  constructor(
    private readonly client: EventBridgeClient,
    private readonly busName: string,
  ) {}

  async publish(envelopes: readonly Envelope[]): Promise<void> {
    // PutEvents takes at most 10 entries; chunks go in order so consumers see causes first.
    for (let i = 0; i < envelopes.length; i += 10) {
      const chunk = envelopes.slice(i, i + 10);
      const out = await this.client.send(
        new PutEventsCommand({
          Entries: chunk.map((envelope) => ({
            EventBusName: this.busName,
            Source: envelope.source,
            DetailType: envelope.type,
            Time: new Date(envelope.time),
            Detail: JSON.stringify(envelope),
          })),
        }),
      );
      // PutEvents reports per-entry failures in a 200 response; a lost event must fail the invocation.
      if ((out.FailedEntryCount ?? 0) > 0) {
        const failed = (out.Entries ?? [])
          .map((entry, n) => ({ entry, envelope: chunk[n] }))
          .filter(({ entry }) => entry.ErrorCode);
        const first = failed[0];
        throw new DependencyUnavailableError(
          'EventBridge',
          `PutEvents rejected ${out.FailedEntryCount} of ${chunk.length} events, first ${first?.envelope?.type ?? '?'} ${first?.envelope?.id ?? '?'}: ${first?.entry.ErrorCode ?? 'unknown'} ${first?.entry.ErrorMessage ?? ''}`.trim(),
        );
      }
    }
  }
}
