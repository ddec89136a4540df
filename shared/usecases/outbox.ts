/**
 * Publishing what a use-case already stored in the outbox (in the
 * transaction of the change it announces). A failed PutEvents is not the
 * change's failure: the row stays pending and the relay (adapters/outbox-relay.ts)
 * publishes it once it is a minute old.
 */
import type { EventPublisher } from '../domain/ports.ts';
import type { Envelope } from '../events/envelope.ts';

export interface OutboxMarks {
  /** Marks outbox rows published (rows already published are left as they are). */
  markPublished(envelopeIds: string[]): Promise<void>;
}

/** Publishes stored envelopes and marks them published; whether they went out (false: left to the relay). */
export async function publishStored(
  deps: { bus: EventPublisher; outbox: OutboxMarks },
  envelopes: readonly Envelope[],
): Promise<boolean> {
  if (envelopes.length === 0) return true;
  try {
    await deps.bus.publish(envelopes);
  } catch {
    return false;
  }
  // Unmarked, they would only go out once more (the relay): consumers drop a repeated id.
  await deps.outbox.markPublished(envelopes.map((e) => e.id)).catch(() => {});
  return true;
}
