import { createHash } from 'node:crypto';
import * as z from 'zod/mini';

/** Every message on the homeostat bus carries this envelope inside the EventBridge `detail`. */
const nonEmpty = () => z.string().check(z.minLength(1));

export const envelopeSchema = z.object({
  id: nonEmpty(),
  type: nonEmpty(),
  source: z.string().check(z.regex(/^homeostat\.[a-z-]+$/, 'source must be homeostat.<agent>')),
  time: z.iso.datetime({ offset: true }),
  incidentId: z.nullable(nonEmpty()),
  correlationId: nonEmpty(),
  causationId: z.nullable(nonEmpty()),
  data: z.unknown(),
});

export type Envelope<T = unknown> = Omit<z.infer<typeof envelopeSchema>, 'data'> & { data: T };

/**
 * Deterministic id for the event a given cause produces, so a redelivered input
 * yields the same envelope id and consumers can drop the duplicate.
 */
export function deterministicEventId(type: string, causeId: string): string {
  const hex = createHash('sha256').update(`${type}\u0000${causeId}`).digest('hex');
  // Shape it as a UUID (version nibble 5, RFC 4122 variant) for readability in consoles.
  const variant = ((Number.parseInt(hex.slice(16, 17), 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

export interface EnvelopeInput<T> {
  type: string;
  source: string;
  time: Date;
  data: T;
  /** Id of the event that caused this one; also seeds the deterministic id. */
  causationId: string;
  correlationId?: string;
  incidentId?: string | null;
}

export function buildEnvelope<T>(input: EnvelopeInput<T>): Envelope<T> {
  return {
    id: deterministicEventId(input.type, input.causationId),
    type: input.type,
    source: input.source,
    time: input.time.toISOString(),
    incidentId: input.incidentId ?? null,
    correlationId: input.correlationId ?? input.causationId,
    causationId: input.causationId,
    data: input.data,
  };
}
