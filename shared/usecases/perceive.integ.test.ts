import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMigratedDatabase, type TestDatabase } from '../../localstack/testing.ts';
import { ConcurrencyConflictError, PostgresPerceptionStore } from '../adapters/perception-store.ts';
import { defaultCorrelationSettings, IllegalTransitionError } from '../domain/incident.ts';
import type { EventPublisher } from '../domain/ports.ts';
import type { Envelope } from '../events/envelope.ts';
import { ecsMetricAlarmEvent } from '../testing/alarm-events.ts';
import { chaosMarkerEvent, taskStoppedEvent } from '../testing/ecs-events.ts';
import { FakeAlarmTags, FakeBus, FakeCounters, FakeEcs, watched } from '../testing/fakes.ts';
import { type PerceiveDeps, perceive, perceiveBatch, sweepQuietIncidents } from './perceive.ts';

/** The perception use-case on the real store: PGlite with pgvector through the Neon driver. */
describe('perception against Postgres', () => {
  let database: TestDatabase;
  let store: PostgresPerceptionStore;
  let clock: { now: () => Date; set(d: Date): void };
  const t0 = new Date('2026-11-20T10:00:00Z');
  const at = (minutes: number) => new Date(t0.getTime() + minutes * 60_000);

  beforeAll(async () => {
    database = await startMigratedDatabase();
    store = new PostgresPerceptionStore(database.pool);
    let now = t0;
    clock = {
      now: () => now,
      set: (d) => {
        now = d;
      },
    };
  });
  afterAll(async () => database?.stop());

  const deps = (bus: EventPublisher = new FakeBus()): PerceiveDeps => ({
    store,
    bus,
    ecs: new FakeEcs(),
    alarmTags: new FakeAlarmTags(),
    counters: new FakeCounters(),
    clock,
  });
  const newService = async (prefixes: string[] = []) => {
    const ref = { cluster: 'shop', service: `svc-${randomUUID().slice(0, 8)}` };
    await store.registerService(watched(ref.cluster, ref.service, prefixes));
    return ref;
  };
  const alarm = (
    svc: { cluster: string; service: string },
    state: 'ALARM' | 'OK',
    minute: number,
    name = 'cpu-high',
  ) => ecsMetricAlarmEvent({ ...svc, alarmName: `${svc.service}-${name}`, state, time: at(minute) });
  const query = async (sql: string, params: unknown[]) => (await database.pool.query(sql, params)).rows;

  it('opens one incident, joins later faults, counts repeats and records benign signals', async () => {
    const svc = await newService();
    clock.set(at(10));
    const bus = new FakeBus();
    const first = await perceive(alarm(svc, 'ALARM', 0), deps(bus));
    const oom = await perceive(taskStoppedEvent({ ...svc, time: at(1) }), deps(bus));
    const oomAgain = await perceive(taskStoppedEvent({ ...svc, time: at(2) }), deps(bus));
    const benign = await perceive(
      taskStoppedEvent({ ...svc, stopCode: 'UserInitiated', exitCode: 0, time: at(3) }),
      deps(bus),
    );

    expect([first.outcome, oom.outcome, oomAgain.outcome, benign.outcome]).toEqual([
      'opened',
      'attached',
      'repeat',
      'suppressed',
    ]);
    const incidentId = 'incidentId' in first ? first.incidentId : null;
    expect(oom).toMatchObject({ incidentId });
    expect(oomAgain).toMatchObject({ incidentId });

    const [incident] = await query('SELECT * FROM incidents WHERE id = $1', [incidentId]);
    expect(incident).toMatchObject({ state: 'open', signal_count: 2, version: 2 });
    const signals = await query(
      'SELECT kind, occurrences, incident_id, suppressed_reason FROM signals WHERE service = $1 ORDER BY occurred_at',
      [svc.service],
    );
    expect(signals).toEqual([
      { kind: 'alarm', occurrences: 1, incident_id: incidentId, suppressed_reason: null },
      { kind: 'task_stopped', occurrences: 2, incident_id: incidentId, suppressed_reason: null },
      { kind: 'task_stopped', occurrences: 1, incident_id: null, suppressed_reason: 'benign' },
    ]);
    const timeline = await query('SELECT kind FROM incident_timeline WHERE incident_id = $1 ORDER BY id', [
      incidentId,
    ]);
    expect(timeline.map((r) => r.kind)).toEqual(['opened', 'signal', 'signal']);
    expect(bus.published.map((e) => e.type)).toEqual([
      'signal.received',
      'incident.opened',
      'signal.received',
      'incident.updated',
      'signal.received',
    ]);
    const pending = await query('SELECT count(*)::int AS n FROM outbox WHERE published_at IS NULL', []);
    expect(pending[0]?.n).toBe(0);
  });

  it('keeps a flapping alarm in one incident, then self-resolves after the quiet period', async () => {
    const svc = await newService();
    clock.set(at(30));
    const d = deps();
    const outcomes = [];
    for (const [state, minute] of [
      ['ALARM', 20],
      ['OK', 21],
      ['ALARM', 22],
      ['OK', 23],
      ['ALARM', 24],
      ['OK', 25],
    ] as const) {
      outcomes.push((await perceive(alarm(svc, state, minute), d)).outcome);
    }
    expect(outcomes).toEqual(['opened', 'attached', 'attached', 'attached', 'attached', 'attached']);
    const incidents = await query('SELECT id, state FROM incidents WHERE service = $1', [svc.service]);
    expect(incidents).toHaveLength(1);

    clock.set(at(25 + 9));
    expect(await sweepQuietIncidents(d)).toEqual([]);
    clock.set(at(25 + 10));
    const resolved = await sweepQuietIncidents(d);
    expect(resolved.map((e) => [e.type, e.incidentId])).toEqual([['incident.resolved', incidents[0]?.id]]);
    expect((await query('SELECT state FROM incidents WHERE id = $1', [incidents[0]?.id]))[0]?.state).toBe(
      'self_resolved',
    );

    // Once closed, the next fault is a new incident.
    clock.set(at(40));
    expect((await perceive(alarm(svc, 'ALARM', 39), d)).outcome).toBe('opened');
  });

  it('does not self-resolve when the alarm fired again after the recovery', async () => {
    const svc = await newService();
    const d = deps();
    clock.set(at(60));
    await perceive(alarm(svc, 'ALARM', 50), d);
    await perceive(alarm(svc, 'OK', 51), d);
    await perceive(alarm(svc, 'ALARM', 52), d);
    clock.set(at(120));
    const resolved = await sweepQuietIncidents(d);
    expect(
      resolved.filter((e) => (e.data as { service: { service: string } }).service.service === svc.service),
    ).toEqual([]);
  });

  it('after a no-fault incident closed with its alarm still in ALARM, a real fault opens a new incident', async () => {
    const svc = await newService();
    clock.set(at(10));
    const first = await perceive(alarm(svc, 'ALARM', 0), deps());
    const firstId = 'incidentId' in first ? first.incidentId : null;
    // The diagnosis found no fault: the plan agent closed it (self_resolved); the alarm never goes back to OK.
    await query(`UPDATE incidents SET state = 'self_resolved', closed_at = $2 WHERE id = $1`, [
      firstId,
      at(11),
    ]);
    clock.set(at(40));
    const oom = await perceive(taskStoppedEvent({ ...svc, time: at(39) }), deps());
    expect(oom.outcome).toBe('opened');
    expect('incidentId' in oom ? oom.incidentId : null).not.toBe(firstId);
    const live = await query(
      `SELECT id FROM incidents WHERE cluster = $1 AND service = $2 AND state NOT IN ('resolved', 'failed', 'escalated', 'self_resolved')`,
      [svc.cluster, svc.service],
    );
    expect(live.map((r) => r.id)).toEqual(['incidentId' in oom ? oom.incidentId : null]);
  });

  it('treats a redelivered event as a no-op', async () => {
    const svc = await newService();
    const event = alarm(svc, 'ALARM', 70);
    clock.set(at(71));
    const bus = new FakeBus();
    expect((await perceive(event, deps(bus))).outcome).toBe('opened');
    expect((await perceive(event, deps(bus))).outcome).toBe('redelivery');
    expect(await query('SELECT count(*)::int AS n FROM signals WHERE id = $1', [event.id])).toEqual([
      { n: 1 },
    ]);
    expect(bus.published).toHaveLength(2);
  });

  it('publishes on redelivery what a crashed first attempt left in the outbox', async () => {
    const svc = await newService();
    const event = alarm(svc, 'ALARM', 80);
    clock.set(at(81));
    const failing: EventPublisher = {
      publish: async () => {
        throw new Error('EventBridge unavailable');
      },
    };
    await expect(perceive(event, deps(failing))).rejects.toThrow('EventBridge unavailable');
    const bus = new FakeBus();
    const retry = await perceive(event, deps(bus));
    expect(retry.outcome).toBe('redelivery');
    expect(bus.published.map((e) => e.type)).toEqual(['signal.received', 'incident.opened']);
    const third = new FakeBus();
    await perceive(event, deps(third));
    expect(third.published).toEqual([]);
  });

  it('leaves one signal when the same event is delivered twice at once', async () => {
    const svc = await newService();
    const event = alarm(svc, 'ALARM', 90);
    clock.set(at(91));
    const results = await Promise.all([perceive(event, deps()), perceive(event, deps())]);
    expect(results.map((r) => r.outcome).sort()).toEqual(['opened', 'redelivery']);
    expect(await query('SELECT count(*)::int AS n FROM signals WHERE id = $1', [event.id])).toEqual([
      { n: 1 },
    ]);
  });

  it('opens one incident when different faults on one service race', async () => {
    const svc = await newService();
    clock.set(at(101));
    const events = [
      alarm(svc, 'ALARM', 100, 'cpu'),
      alarm(svc, 'ALARM', 100, 'memory'),
      taskStoppedEvent({ ...svc, time: at(100) }),
    ];
    const results = await Promise.all(events.map((e) => perceive(e, deps())));
    expect(results.map((r) => r.outcome).sort()).toEqual(['attached', 'attached', 'opened']);
    expect(
      await query(
        'SELECT count(*)::int AS n, max(signal_count) AS signals FROM incidents WHERE service = $1',
        [svc.service],
      ),
    ).toEqual([{ n: 1, signals: 3 }]);
  });

  it('names the chaos experiment that caused an incident', async () => {
    const svc = await newService();
    clock.set(at(111));
    const d = deps();
    expect(
      (await perceive(chaosMarkerEvent({ ...svc, experimentId: 'exp-42', time: at(110) }), d)).outcome,
    ).toBe('suppressed');
    const opened = await perceive(alarm(svc, 'ALARM', 111), d);
    const incidentId = 'incidentId' in opened ? opened.incidentId : null;
    expect(await query('SELECT chaos_experiment_id FROM incidents WHERE id = $1', [incidentId])).toEqual([
      { chaos_experiment_id: 'exp-42' },
    ]);
  });

  it('resolves an alarm without dimensions through the registry’s alarm prefixes', async () => {
    const svc = await newService(['legacy-checkout-']);
    clock.set(at(121));
    const result = await perceive(
      ecsMetricAlarmEvent({ alarmName: 'legacy-checkout-latency', time: at(120) }),
      deps(),
    );
    expect(result).toMatchObject({ outcome: 'opened', service: svc });
  });

  it('moves incidents only along the state machine, at the version the caller read', async () => {
    const svc = await newService();
    clock.set(at(141));
    const opened = await perceive(alarm(svc, 'ALARM', 140), deps());
    const id = ('incidentId' in opened ? opened.incidentId : null) as string;
    const diagnosing = await store.transition(id, 1, 'diagnosing', { by: 'test' });
    expect(diagnosing).toMatchObject({ state: 'diagnosing', version: 2 });
    await expect(store.transition(id, 1, 'planned')).rejects.toBeInstanceOf(ConcurrencyConflictError);
    await expect(store.transition(id, 2, 'resolved')).rejects.toBeInstanceOf(IllegalTransitionError);
    expect(await store.transition(id, 2, 'escalated')).toMatchObject({ state: 'escalated', version: 3 });
    const [row] = await query('SELECT state, version, closed_at FROM incidents WHERE id = $1', [id]);
    expect(row).toMatchObject({ state: 'escalated', version: 3 });
    expect(row?.closed_at).not.toBeNull();
    const timeline = await query(
      'SELECT kind, detail FROM incident_timeline WHERE incident_id = $1 ORDER BY id',
      [id],
    );
    expect(timeline.slice(-2)).toEqual([
      { kind: 'state:diagnosing', detail: { from: 'open', by: 'test' } },
      { kind: 'state:escalated', detail: { from: 'diagnosing' } },
    ]);
  });

  it('refuses to change or delete the incident timeline', async () => {
    await expect(database.pool.query("UPDATE incident_timeline SET kind = 'edited'")).rejects.toThrow(
      /append-only/,
    );
    await expect(database.pool.query('DELETE FROM incident_timeline')).rejects.toThrow(/append-only/);
  });

  it('uses the documented default windows', () => {
    expect(defaultCorrelationSettings).toEqual({
      dedupeWindowMs: 300_000,
      quietPeriodMs: 600_000,
      chaosAttributionMs: 1_800_000,
    });
  });

  it('publishes envelopes that carry the incident as correlation id', async () => {
    const svc = await newService();
    clock.set(at(131));
    const bus = new FakeBus();
    const result = await perceive(alarm(svc, 'ALARM', 130), deps(bus));
    const incidentId = 'incidentId' in result ? result.incidentId : null;
    for (const envelope of bus.published as Envelope[]) {
      expect(envelope).toMatchObject({ incidentId, correlationId: incidentId, source: 'homeostat.perceive' });
    }
  });

  it('decides a batch exactly as it decides the same events one at a time', async () => {
    const [single, batched] = [await newService(), await newService()];
    const storm = (svc: { cluster: string; service: string }) => [
      chaosMarkerEvent({ ...svc, experimentId: 'exp-7', time: at(200) }),
      alarm(svc, 'ALARM', 201),
      alarm(svc, 'ALARM', 202),
      taskStoppedEvent({ ...svc, time: at(202) }),
      alarm(svc, 'OK', 203),
      alarm(svc, 'ALARM', 204),
      alarm(svc, 'ALARM', 204, 'memory'),
      taskStoppedEvent({
        ...svc,
        stopCode: 'ServiceSchedulerInitiated',
        stoppedReason: 'Scaling activity initiated by (deployment ecs-svc/1)',
        exitCode: 0,
        containerReason: '',
        time: at(205),
      }),
      alarm(svc, 'OK', 206),
      alarm(svc, 'ALARM', 215),
    ];
    clock.set(at(220));
    const one: string[] = [];
    for (const event of storm(single)) one.push((await perceive(event, deps())).outcome);
    const events = storm(batched);
    // The whole storm in one batch, with one event delivered twice in it.
    const items = await perceiveBatch([...events, events[1]], deps());
    const many = items.map((item) => (item.ok ? item.result.outcome : 'rejected'));
    expect(many).toEqual([...one, 'redelivery']);
    expect(one).toEqual([
      'suppressed',
      'opened',
      'repeat',
      'attached',
      'attached',
      'attached',
      'attached',
      'suppressed',
      'attached',
      // ALARM again after the OK: a flip, so a new fault on the incident, not a repeat.
      'attached',
    ]);
    const state = async (svc: { service: string }) => ({
      incidents: await query(
        `SELECT signal_count, version, opened_at, last_signal_at, last_fault_at, recovery_seen_at, chaos_experiment_id
           FROM incidents WHERE service = $1`,
        [svc.service],
      ),
      signals: await query(
        `SELECT replace(name, service, 'svc') AS name, classification, occurrences, last_seen_at, suppressed_reason,
                incident_id IS NOT NULL AS attached
           FROM signals WHERE service = $1 ORDER BY occurred_at, 1, classification`,
        [svc.service],
      ),
      timeline: await query(
        `SELECT t.kind, t.at FROM incident_timeline t JOIN incidents i ON i.id = t.incident_id
          WHERE i.service = $1 ORDER BY t.id`,
        [svc.service],
      ),
      ledger: await query(
        'SELECT count(*)::int AS n FROM signal_events e JOIN signals s ON s.id = e.signal_id WHERE s.service = $1',
        [svc.service],
      ),
    });
    const expected = await state(single);
    expect(expected.incidents).toMatchObject([{ signal_count: 7, version: 7, chaos_experiment_id: 'exp-7' }]);
    expect(await state(batched)).toEqual(expected);
  });
});
