/**
 * The outbox relay, one for every agent. Each agent writes the events that
 * announce a change in the change's own transaction and publishes them at
 * once; a row still unpublished a minute later (PutEvents failed, the
 * function timed out or crashed in between) is published here and marked.
 */
import type { EventPublisher } from '../domain/ports.ts';
import type { Envelope } from '../events/envelope.ts';
import { type Pool, withTransaction } from './database.ts';

/** PutEvents takes at most this many entries per call. */
export const putEventsLimit = 10;

/** Marks outbox rows published; rows already published keep their first time. */
export async function markOutboxPublished(
  db: Pick<Pool, 'query'>,
  envelopeIds: readonly string[],
): Promise<void> {
  if (envelopeIds.length === 0) return;
  await db.query('UPDATE outbox SET published_at = now() WHERE id = ANY($1) AND published_at IS NULL', [
    [...envelopeIds],
  ]);
}

export interface RelayResult {
  /** Envelope ids published and marked by this run. */
  published: string[];
  /** Envelope ids still pending (PutEvents refused them, or an earlier event of their cause). */
  failed: string[];
}

interface PendingRow {
  id: string;
  causation_id: string;
  envelope: Envelope;
}

/**
 * Publishes outbox rows unpublished for more than `olderThanMs` (oldest
 * first, at most `limit`), PutEvents' 10 entries per call, and marks those
 * that went out. Rows are locked while they are published (FOR UPDATE SKIP
 * LOCKED), so concurrent relays never publish one row twice. A failed entry
 * stays pending for the next run, and so do later events of the same cause
 * (consumers see causes first).
 */
export async function republishStale(
  deps: { db: Pool; bus: EventPublisher; now: Date },
  olderThanMs = 60_000,
  limit = 100,
): Promise<RelayResult> {
  return withTransaction(deps.db, async (client) => {
    const { rows } = await client.query(
      `SELECT id, causation_id, envelope FROM outbox
        WHERE published_at IS NULL AND created_at < $1
        ORDER BY seq LIMIT $2 FOR UPDATE SKIP LOCKED`,
      [new Date(deps.now.getTime() - olderThanMs), limit],
    );
    const result = await publishInChunks(rows as PendingRow[], deps.bus);
    await markOutboxPublished(client, result.published);
    return result;
  });
}

/** Ten at a time; a refused chunk is retried one entry at a time to find the entries at fault. */
async function publishInChunks(rows: readonly PendingRow[], bus: EventPublisher): Promise<RelayResult> {
  const published: string[] = [];
  const failed: string[] = [];
  const blocked = new Set<string>();
  const fail = (row: PendingRow) => {
    failed.push(row.id);
    blocked.add(row.causation_id);
  };
  for (let i = 0; i < rows.length; i += putEventsLimit) {
    const chunk: PendingRow[] = [];
    for (const row of rows.slice(i, i + putEventsLimit))
      if (blocked.has(row.causation_id)) failed.push(row.id);
      else chunk.push(row);
    if (chunk.length === 0) continue;
    try {
      await bus.publish(chunk.map((r) => r.envelope));
      published.push(...chunk.map((r) => r.id));
      continue;
    } catch {
      // Some entries may have gone out: publishing them again repeats an id consumers drop.
    }
    for (const row of chunk) {
      if (blocked.has(row.causation_id)) {
        failed.push(row.id);
        continue;
      }
      try {
        await bus.publish([row.envelope]);
        published.push(row.id);
      } catch {
        fail(row);
      }
    }
  }
  return { published, failed };
}
