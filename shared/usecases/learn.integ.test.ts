import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMigratedDatabase, type TestDatabase, uniqueName } from '../../localstack/testing.ts';
import { createEmbeddingModels } from '../adapters/embeddings.ts';
import { PostgresKnowledgeStore } from '../adapters/knowledge-store.ts';
import { PostgresLearningStore } from '../adapters/learning-store.ts';
import { republishStale } from '../adapters/outbox-relay.ts';
import { PostgresPerceptionStore } from '../adapters/perception-store.ts';
import { PostgresRemediationStore } from '../adapters/remediation-store.ts';
import { InvalidEventError } from '../domain/errors.ts';
import { defaultLearningSettings } from '../domain/learning.ts';
import type { Autonomy } from '../domain/policy.ts';
import type { LearningRecordedData } from '../events/catalog.ts';
import { detailTypes } from '../events/detail-types.ts';
import { buildEnvelope } from '../events/envelope.ts';
import { FakeBus, watched } from '../testing/fakes.ts';
import { asBusEvent, type SeedIncident, seedIncident } from '../testing/incidents.ts';
import { type LearnDeps, learnFromIncident } from './learn.ts';

/** The learn agent on PGlite: outcomes, the graph, recurrence and earned autonomy, idempotent. */
describe('learn agent', () => {
  let database: TestDatabase;
  let knowledge: PostgresKnowledgeStore;
  let deps: LearnDeps;
  let bus: FakeBus;
  const cluster = uniqueName('learn');
  const now = new Date();

  beforeAll(async () => {
    database = await startMigratedDatabase();
    knowledge = new PostgresKnowledgeStore(database.pool);
    bus = new FakeBus();
    deps = {
      store: new PostgresLearningStore(database.pool, new PostgresRemediationStore(database.pool), knowledge),
      knowledge,
      embeddings: createEmbeddingModels(database.pool, { model: 'homeostat-hash-v1' }),
      registry: new PostgresPerceptionStore(database.pool, {}, 0),
      bus,
      clock: { now: () => now },
      settings: { ...defaultLearningSettings, promotionStreak: 3 },
      defaultAutonomy: 'approve',
    };
  });
  afterAll(async () => database?.stop());

  const register = (service: string, autonomy: Autonomy) =>
    new PostgresPerceptionStore(database.pool, {}, 0).registerService({
      ...watched(cluster, service),
      autonomy: { default: autonomy },
    });

  const closed = (type: 'resolved' | 'escalated' | 'failed', incidentId: string, service: string) => {
    const common = { source: 'homeostat.verify', time: now, incidentId, causationId: randomUUID() };
    const ref = { cluster, service };
    if (type === 'resolved')
      return asBusEvent(
        buildEnvelope({
          ...common,
          type: detailTypes.incidentResolved,
          data: {
            incidentId,
            service: ref,
            resolution: 'resolved',
            resolvedAt: now.toISOString(),
            openedAt: now.toISOString(),
          },
        }),
      );
    if (type === 'escalated')
      return asBusEvent(
        buildEnvelope({
          ...common,
          type: detailTypes.incidentEscalated,
          data: { incidentId, reason: 'no luck', service: ref },
        }),
      );
    return asBusEvent(
      buildEnvelope({
        ...common,
        type: detailTypes.remediationFailed,
        data: {
          incidentId,
          service: ref,
          step: 1,
          action: 'scale_out',
          outcome: 'worse',
          reason: 'worse',
          undone: true,
        },
      }),
    );
  };

  const seed = (service: string, over: Partial<SeedIncident> = {}) =>
    seedIncident(database.pool, {
      cluster,
      service,
      state: 'resolved',
      openedAt: new Date(now.getTime() - 10 * 60_000),
      closedAfterMs: 185_000,
      rootCause: 'oom',
      tokens: { input: 1000, output: 200 },
      costUsd: 0.01,
      steps: [
        { action: 'scale_out', status: 'worse', undone: true },
        { action: 'rollback_task_definition', status: 'resolved' },
      ],
      ...over,
    });

  const lastLearned = () => bus.published.at(-1)?.data as LearningRecordedData;

  it('records outcomes, summarises the incident with its embedding, links solution —solves→ problem, once', async () => {
    const id = await seed('api');
    const first = await learnFromIncident(closed('resolved', id, 'api'), deps);
    expect(first).toMatchObject({ outcome: 'learned', outcomes: ['worse', 'resolved'], costUsd: 0.01 });
    expect(lastLearned()).toMatchObject({
      incidentId: id,
      outcome: 'resolved',
      rootCause: 'oom',
      resolvedBy: 'rollback_task_definition',
      timeToResolveMs: 185_000,
      outcomesRecorded: 2,
      recurrence: { count: 1, recurring: false, recommendation: null },
    });
    const { rows: outcomes } = await database.pool.query(
      'SELECT action, result, time_to_resolve_ms FROM outcomes WHERE incident_id = $1 ORDER BY action',
      [id],
    );
    expect(outcomes).toEqual([
      { action: 'rollback_task_definition', result: 'resolved', time_to_resolve_ms: '185000' },
      { action: 'scale_out', result: 'worse', time_to_resolve_ms: null },
    ]);
    const node = await database.pool.query(
      `SELECT n.content, count(e.*) AS vectors FROM knowledge_nodes n LEFT JOIN knowledge_embeddings e ON e.node_id = n.id
        WHERE n.kind = 'incident' AND n.key = $1 GROUP BY n.id`,
      [id],
    );
    expect(node.rows[0].content).toContain('Outcome: resolved by rollback_task_definition after 3 min 5 s');
    expect(Number(node.rows[0].vectors)).toBe(1);
    const solves = await database.pool.query(
      `SELECT e.weight FROM knowledge_edges e JOIN knowledge_nodes s ON s.id = e.from_id JOIN knowledge_nodes p ON p.id = e.to_id
        WHERE e.relation = 'solves' AND s.key = 'rollback_task_definition' AND p.key = 'oom'`,
    );
    expect(solves.rows).toHaveLength(1);
    const rates = await knowledge.successRates({ rootCause: 'oom' });
    expect(rates.find((r) => r.action === 'rollback_task_definition')?.successes).toBeGreaterThan(0.9);

    // A redelivery records nothing twice and reports no tokens twice.
    const again = await learnFromIncident(closed('resolved', id, 'api'), deps);
    expect(again).toMatchObject({ outcome: 'relearned', outcomes: [], costUsd: 0 });
    const count = await database.pool.query('SELECT count(*) AS n FROM outcomes WHERE incident_id = $1', [
      id,
    ]);
    expect(Number(count.rows[0].n)).toBe(2);
  });

  it('keeps the weight of a runbook solves edge (the planner’s runbook order)', async () => {
    await deps.knowledge.saveNodes([
      { node: { kind: 'problem', key: 'crash_loop', title: 'Root cause: crash loop' }, vectors: new Map() },
      {
        node: { kind: 'solution', key: 'restart_service', title: 'Action: restart service' },
        vectors: new Map(),
      },
    ]);
    await knowledge.link(
      { kind: 'solution', key: 'restart_service' },
      'solves',
      { kind: 'problem', key: 'crash_loop' },
      0.5,
    );
    const id = await seed('worker', {
      rootCause: 'crash_loop',
      steps: [{ action: 'restart_service', status: 'resolved' }],
    });
    await learnFromIncident(closed('resolved', id, 'worker'), deps);
    const { rows } = await database.pool.query(
      `SELECT e.weight FROM knowledge_edges e JOIN knowledge_nodes s ON s.id = e.from_id JOIN knowledge_nodes p ON p.id = e.to_id
        WHERE e.relation = 'solves' AND s.key = 'restart_service' AND p.key = 'crash_loop'`,
    );
    expect(rows).toEqual([{ weight: 0.5 }]);
  });

  it('records a failed step at once and leaves the summary for the close', async () => {
    const id = await seed('cart', {
      state: 'verifying',
      closedAfterMs: undefined,
      steps: [{ action: 'scale_out', status: 'worse', undone: true }],
    });
    expect(await learnFromIncident(closed('failed', id, 'cart'), deps)).toEqual({
      outcome: 'outcomes_recorded',
      incidentId: id,
      recorded: 1,
    });
    const node = await database.pool.query(
      `SELECT 1 FROM knowledge_nodes WHERE kind = 'incident' AND key = $1`,
      [id],
    );
    expect(node.rows).toHaveLength(0);
  });

  it('turns the third closing of one fingerprint in a week into a pattern with a fix-the-root-cause recommendation', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const id = await seed('search', {
        fingerprint: `${cluster}/search:alarm:latency`,
        openedAt: new Date(now.getTime() - (3 - i) * 86_400_000),
        steps: [{ action: 'restart_service', status: 'resolved' }],
      });
      ids.push(id);
      await learnFromIncident(closed('resolved', id, 'search'), deps);
    }
    const learned = lastLearned();
    expect(learned.recurrence).toMatchObject({ count: 3, recurring: true });
    expect(learned.recurrence.recommendation).toMatch(
      /closed 3 times in 7 days on .*search.*fix the root cause/,
    );
    // Identical stories are linked similar_to the earlier ones.
    expect(learned.similarIncidents).toEqual(expect.arrayContaining([ids[0], ids[1]]));
    const { rows } = await database.pool.query(
      `SELECT i.key FROM knowledge_edges e JOIN knowledge_nodes i ON i.id = e.from_id JOIN knowledge_nodes p ON p.id = e.to_id
        WHERE e.relation = 'evolves_into' AND p.kind = 'pattern' AND p.key = $1 ORDER BY i.key`,
      [`${cluster}/search/${cluster}/search:alarm:latency`],
    );
    expect(rows.map((r) => r.key)).toEqual([...ids].sort());
  });

  it('recommends promoting an action after k approved repairs with no regression, once', async () => {
    await register('billing', 'approve');
    const approved = { action: 'restart_service', mode: 'approve' as const, status: 'resolved' };
    for (let i = 0; i < 2; i++) {
      const id = await seed('billing', { rootCause: 'crash_loop', steps: [approved] });
      await learnFromIncident(closed('resolved', id, 'billing'), deps);
      expect(lastLearned().promotions).toEqual([]);
    }
    const third = await seed('billing', { rootCause: 'crash_loop', steps: [approved] });
    await learnFromIncident(closed('resolved', third, 'billing'), deps);
    expect(lastLearned().promotions).toEqual([
      { action: 'restart_service', from: 'approve', to: 'auto', evidence: 3 },
    ]);
    const fourth = await seed('billing', { rootCause: 'crash_loop', steps: [approved] });
    await learnFromIncident(closed('resolved', fourth, 'billing'), deps);
    expect(lastLearned().promotions).toEqual([]);
    const { rows } = await database.pool.query(
      `SELECT to_level, evidence FROM autonomy_recommendations WHERE cluster = $1 AND service = 'billing'`,
      [cluster],
    );
    expect(rows).toEqual([{ to_level: 'auto', evidence: 3 }]);
  });

  it('a regression restarts the streak', async () => {
    await register('ledger', 'approve');
    const steps = (status: string) => [
      { action: 'scale_out', mode: 'approve' as const, status, undone: status === 'worse' },
    ];
    for (const status of ['resolved', 'resolved', 'worse', 'resolved', 'resolved']) {
      const id = await seed('ledger', { rootCause: 'capacity_shortfall', steps: steps(status) });
      await learnFromIncident(closed(status === 'worse' ? 'escalated' : 'resolved', id, 'ledger'), deps);
    }
    expect(lastLearned().promotions).toEqual([]);
  });

  it('rejects an event for an incident that does not exist', async () => {
    await expect(learnFromIncident(closed('resolved', randomUUID(), 'ghost'), deps)).rejects.toThrow(
      InvalidEventError,
    );
  });
  it('writes learning.recorded with the learning row: a failed PutEvents leaves it for the relay, never lost', async () => {
    const id = await seed('outboxed');
    const event = closed('resolved', id, 'outboxed');
    const down = {
      ...deps,
      bus: {
        publish: async () => {
          throw new Error('EventBridge: InternalFailure');
        },
      },
    };
    expect(await learnFromIncident(event, down)).toMatchObject({ outcome: 'learned', published: false });
    const outbox = async () =>
      (
        await database.pool.query(
          `SELECT id, envelope, published_at FROM outbox WHERE envelope ->> 'incidentId' = $1`,
          [id],
        )
      ).rows;
    const [row] = await outbox();
    expect(row).toMatchObject({
      envelope: { type: 'learning.recorded', source: 'homeostat.learn', data: { incidentId: id } },
      published_at: null,
    });
    // The relay publishes it once it is a minute old, and marks it.
    const relayBus = new FakeBus();
    const relayed = await republishStale({
      db: database.pool,
      bus: relayBus,
      now: new Date(Date.now() + 61_000),
    });
    expect(relayed.published).toContain(row?.id);
    expect(relayBus.published).toContainEqual(
      expect.objectContaining({ id: row?.id, type: 'learning.recorded' }),
    );
    expect((await outbox())[0]?.published_at).not.toBeNull();
    // A redelivery finds it published: nothing twice.
    const before = bus.published.length;
    expect(await learnFromIncident(event, deps)).toMatchObject({ outcome: 'relearned', published: true });
    expect(bus.published).toHaveLength(before);
    expect(await outbox()).toHaveLength(1);
  });
});
