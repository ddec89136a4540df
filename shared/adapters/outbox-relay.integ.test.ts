import { randomUUID } from 'node:crypto';
import { CreateEventBusCommand, DeleteEventBusCommand, EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  captureEvents,
  type EventCapture,
  emulatorClientConfig,
  startMigratedDatabase,
  type TestDatabase,
  uniqueName,
} from '../../localstack/testing.ts';
import type { EventPublisher } from '../domain/ports.ts';
import { buildEnvelope, type Envelope } from '../events/envelope.ts';
import { withTransaction } from './database.ts';
import { EventBridgePublisher } from './event-bus.ts';
import { writeOutbox } from './incident-rows.ts';
import { republishStale } from './outbox-relay.ts';

/**
 * The one outbox relay, on PGlite and the emulator's EventBridge: rows left
 * unpublished for more than a minute go out (ten per PutEvents call) and are
 * marked; what PutEvents refuses stays pending, with the later events of its cause.
 */
describe('outbox relay', () => {
  let database: TestDatabase;
  const events = new EventBridgeClient(emulatorClientConfig());
  const busName = uniqueName('homeostat-relay');
  let capture: EventCapture;

  beforeAll(async () => {
    database = await startMigratedDatabase();
    await events.send(new CreateEventBusCommand({ Name: busName }));
    capture = await captureEvents(busName, 'chaos.injected');
  });
  afterAll(async () => {
    await capture?.dispose();
    await events.send(new DeleteEventBusCommand({ Name: busName })).catch(() => {});
    await database?.stop();
  });
  beforeEach(async () => {
    await database.pool.query('DELETE FROM outbox');
  });

  const envelope = (causationId: string, n = 0): Envelope =>
    buildEnvelope({
      type: 'chaos.injected',
      source: 'homeostat.chaos',
      time: new Date(),
      causationId: `${causationId}#${n}`,
      correlationId: causationId,
      data: { experimentId: causationId, n },
    });
  /** Stores envelopes (one cause each unless given) created `ageMs` ago. */
  const store = async (rows: { causationId: string; envelope: Envelope }[], ageMs: number) => {
    await withTransaction(database.pool, (client) => writeOutbox(client, rows));
    await database.pool.query(
      `UPDATE outbox SET created_at = now() - make_interval(secs => $2) WHERE id = ANY($1)`,
      [rows.map((r) => r.envelope.id), ageMs / 1000],
    );
  };
  const pending = async () =>
    (await database.pool.query('SELECT id FROM outbox WHERE published_at IS NULL ORDER BY seq')).rows.map(
      (r) => r.id as string,
    );
  class RecordingBus implements EventPublisher {
    readonly calls: Envelope[][] = [];
    constructor(private readonly refuse: (e: Envelope) => boolean = () => false) {}
    async publish(envelopes: readonly Envelope[]) {
      if (envelopes.length > 10) throw new Error('PutEvents takes at most 10 entries');
      if (envelopes.some(this.refuse)) throw new Error('PutEvents rejected an entry');
      this.calls.push([...envelopes]);
    }
  }

  it('publishes rows unpublished for more than a minute on the bus and marks them; newer ones wait', async () => {
    const stale = envelope(randomUUID());
    const fresh = envelope(randomUUID());
    const done = envelope(randomUUID());
    await store([{ causationId: stale.causationId ?? '', envelope: stale }], 90_000);
    await store([{ causationId: fresh.causationId ?? '', envelope: fresh }], 10_000);
    await store([{ causationId: done.causationId ?? '', envelope: done }], 90_000);
    await database.pool.query('UPDATE outbox SET published_at = now() WHERE id = $1', [done.id]);

    const bus = new EventBridgePublisher(events, busName);
    const result = await republishStale({ db: database.pool, bus, now: new Date() });
    expect(result).toEqual({ published: [stale.id], failed: [] });
    expect(await capture.next<Envelope>((d) => d.id === stale.id)).toMatchObject({
      type: 'chaos.injected',
      data: stale.data,
    });
    expect(await pending()).toEqual([fresh.id]);
    // Once marked, never again.
    expect(await republishStale({ db: database.pool, bus, now: new Date() })).toEqual({
      published: [],
      failed: [],
    });
    // The threshold is the caller's.
    expect(await republishStale({ db: database.pool, bus, now: new Date() }, 5_000)).toEqual({
      published: [fresh.id],
      failed: [],
    });
  });

  it('sends at most ten entries per PutEvents call, oldest first, and stops at the batch limit', async () => {
    const cause = randomUUID();
    const rows = Array.from({ length: 25 }, (_, n) => ({ causationId: cause, envelope: envelope(cause, n) }));
    await store(rows, 120_000);
    const bus = new RecordingBus();
    const result = await republishStale({ db: database.pool, bus, now: new Date() }, 60_000, 23);
    expect(bus.calls.map((c) => c.length)).toEqual([10, 10, 3]);
    expect(bus.calls.flat().map((e) => e.id)).toEqual(rows.slice(0, 23).map((r) => r.envelope.id));
    expect(result.published).toHaveLength(23);
    expect(await pending()).toEqual(rows.slice(23).map((r) => r.envelope.id));
  });

  it('leaves a refused entry pending, with the later events of its cause; the rest go out', async () => {
    const [a, b] = [randomUUID(), randomUUID()];
    const a1 = envelope(a, 1);
    const a2 = envelope(a, 2);
    const a3 = envelope(a, 3);
    const b1 = envelope(b, 1);
    const b2 = envelope(b, 2);
    // In this order (seq): a1, a2, b1, a3, b2.
    for (const [cause, e] of [
      [a, a1],
      [a, a2],
      [b, b1],
      [a, a3],
      [b, b2],
    ] as const)
      await store([{ causationId: cause, envelope: e }], 120_000);

    const refusing = new RecordingBus((e) => e.id === a2.id);
    expect(await republishStale({ db: database.pool, bus: refusing, now: new Date() })).toEqual({
      published: [a1.id, b1.id, b2.id],
      failed: [a2.id, a3.id],
    });
    expect(await pending()).toEqual([a2.id, a3.id]);

    // PutEvents takes it next time: the cause's events go out in their order.
    const fixed = new RecordingBus();
    expect(await republishStale({ db: database.pool, bus: fixed, now: new Date() })).toEqual({
      published: [a2.id, a3.id],
      failed: [],
    });
    expect(fixed.calls).toEqual([[a2, a3]]);
    expect(await pending()).toEqual([]);
  });
});
