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

  async publish(envelope: Envelope): Promise<void> {
    const out = await this.client.send(
      new PutEventsCommand({
        Entries: [
          {
            EventBusName: this.busName,
            Source: envelope.source,
            DetailType: envelope.type,
            Time: new Date(envelope.time),
            Detail: JSON.stringify(envelope),
          },
        ],
      }),
    );
    // PutEvents reports per-entry failures in a 200 response; a lost event must fail the invocation.
    if ((out.FailedEntryCount ?? 0) > 0) {
      const entry = out.Entries?.[0];
      throw new DependencyUnavailableError(
        'EventBridge',
        `PutEvents rejected ${envelope.type} ${envelope.id}: ${entry?.ErrorCode ?? 'unknown'} ${entry?.ErrorMessage ?? ''}`.trim(),
      );
    }
  }
}
