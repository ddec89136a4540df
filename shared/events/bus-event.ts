import * as z from 'zod/mini';
import { InvalidEventError } from '../domain/errors.ts';
import type { DetailType } from './detail-types.ts';
import { type Envelope, envelopeSchema } from './envelope.ts';
import { describeIssues } from './zod.ts';

/**
 * The envelope of one of `types` inside an EventBridge event (a rule delivery,
 * or a scheduler's input of the same shape), its data checked against the
 * type's schema; anything else is rejected with the reasons.
 */
export function parseBusEvent<T extends Record<string, z.ZodMiniType>>(
  event: unknown,
  types: T,
): { [K in keyof T]: { type: K; envelope: Envelope<z.infer<T[K]>> } }[keyof T] {
  const type = (event as { detail?: { type?: unknown } } | null)?.detail?.type;
  const names = Object.keys(types) as DetailType[];
  if (typeof type !== 'string' || !(type in types))
    throw new InvalidEventError(`expected ${names.join(' or ')}`, [
      `detail.type: ${typeof type === 'string' ? `"${type}" is not handled here` : 'missing'}`,
    ]);
  const schema = z.object({
    detail: z.object({ ...envelopeSchema.shape, data: types[type] as z.ZodMiniType }),
  });
  const parsed = schema.safeParse(event);
  if (!parsed.success) throw new InvalidEventError(`not a valid ${type} event`, describeIssues(parsed.error));
  // biome-ignore lint/suspicious/noExplicitAny: the union is narrowed by `type` at the call site.
  return { type, envelope: parsed.data.detail } as any;
}

/** An EventBridge scheduled rule's event (`aws.events` / `Scheduled Event`): the agents' periodic sweeps. */
export const isScheduledEvent = (event: unknown): boolean => {
  const e = (event ?? {}) as { source?: unknown; 'detail-type'?: unknown };
  return e.source === 'aws.events' && e['detail-type'] === 'Scheduled Event';
};
