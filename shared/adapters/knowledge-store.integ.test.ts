import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrationsDir, startMigratedDatabase, type TestDatabase } from '../../localstack/testing.ts';
import { loadMigrations, migrate } from '../db/migrate.ts';
import {
  CachedEmbedder,
  type Embedder,
  EmbeddingModels,
  HashingEmbedder,
  offlineEmbeddingModel,
} from '../domain/embedding.ts';
import { DependencyUnavailableError } from '../domain/errors.ts';
import { inputsHashOf, type OutcomeInput } from '../domain/knowledge.ts';
import { ingestRunbooks, putNodes, searchKnowledge } from '../usecases/knowledge.ts';
import { PostgresEmbeddingCache, PostgresKnowledgeStore } from './knowledge-store.ts';
import { bundledRunbooksDir, readRunbookDir } from './runbook-files.ts';

/** A second "model": same features, different buckets, so its vectors are not comparable with the offline ones. */
class OtherModel implements Embedder {
  readonly model = 'other-model-v1';
  calls = 0;
  down = false;
  private readonly inner = new HashingEmbedder();
  async embed(texts: readonly string[]) {
    if (this.down) throw new DependencyUnavailableError('Bedrock', 'throttled');
    this.calls += texts.length;
    return texts.map((t) => {
      const v = this.inner.embedOne(t);
      return [...v.slice(7), ...v.slice(0, 7)];
    });
  }
}

/** The knowledge base on PGlite with pgvector, through the Neon driver. */
describe('knowledge base against Postgres', () => {
  let database: TestDatabase;
  let store: PostgresKnowledgeStore;
  const offline = new EmbeddingModels(new HashingEmbedder());
  const count = async (sql: string, params: unknown[] = []) =>
    Number((await database.pool.query(sql, params)).rows[0].n);

  beforeAll(async () => {
    database = await startMigratedDatabase();
    store = new PostgresKnowledgeStore(database.pool);
  });
  afterAll(async () => database?.stop());

  it('migrations re-run cleanly: nothing applied twice', async () => {
    const report = await migrate(database.pool, await loadMigrations(migrationsDir));
    expect(report.applied).toEqual([]);
    expect(report.alreadyApplied).toContain('0003_knowledge.sql');
  });

  describe('runbooks', () => {
    it('ingests the bundled runbooks: chunks with metadata, problems, solutions and their edges', async () => {
      const runbooks = readRunbookDir(bundledRunbooksDir);
      const report = await ingestRunbooks(runbooks, { store, embeddings: offline });
      expect(report.runbooks).toBe(12);
      expect(report.chunks).toBeGreaterThanOrEqual(48);
      expect(report.embedded[offlineEmbeddingModel]).toBe(report.nodes);
      const chunk = await store.node({ kind: 'runbook', key: 'oom#1' });
      expect(chunk?.payload).toMatchObject({
        runbook: 'oom',
        heading: 'Symptoms',
        categories: ['oom'],
        actions: ['rollback_task_definition', 'increase_memory', 'restart_service'],
      });
      const stats = await store.stats();
      expect(stats.runbooks).toBe(12);
      expect(stats.nodes.problem).toBe(12);
      expect(stats.embeddings[offlineEmbeddingModel]).toBe(report.nodes);
    });

    it('re-ingesting the same runbooks embeds and writes nothing (idempotent by content hash)', async () => {
      const before = await database.pool.query(
        'SELECT max(updated_at) AS at, count(*) AS n FROM knowledge_nodes',
      );
      const report = await ingestRunbooks(readRunbookDir(bundledRunbooksDir), {
        store,
        embeddings: offline,
      });
      expect(report.embedded[offlineEmbeddingModel]).toBe(0);
      const after = await database.pool.query(
        'SELECT max(updated_at) AS at, count(*) AS n FROM knowledge_nodes',
      );
      expect(after.rows[0]).toEqual(before.rows[0]);
    });

    it('finds the right runbook by full text and by meaning, fused', async () => {
      const top = async (text: string) => {
        const hits = await store.searchRunbooks(text, await offline.embedQuery(text), 3);
        return hits[0];
      };
      const oom = await top('container killed exit code 137 OutOfMemoryError');
      expect(oom?.node.payload.runbook).toBe('oom');
      expect(oom?.textRank).not.toBeNull();
      expect(oom?.vectorRank).not.toBeNull();
      expect((await top('CannotPullContainerError manifest unknown'))?.node.payload.runbook).toBe(
        'image-pull-failure',
      );
      expect((await top('ECONNREFUSED connecting to the database'))?.node.payload.runbook).toBe(
        'dependency-failure',
      );
      // No word in common with any runbook: the vector ranking alone still answers.
      const vectorOnly = await store.searchRunbooks('zzqx', await offline.embedQuery('zzqx'), 3);
      expect(vectorOnly.length).toBe(3);
      expect(vectorOnly.every((h) => h.textRank === null)).toBe(true);
    });

    it('a runbook that gets shorter loses its surplus chunks', async () => {
      const [oom] = readRunbookDir(bundledRunbooksDir).filter((r) => r.id === 'oom');
      if (!oom) throw new Error('oom runbook missing');
      const short = { ...oom, body: '# Out of memory\n\nRoll back.' };
      const report = await ingestRunbooks([short], { store, embeddings: offline });
      expect(report.pruned).toBeGreaterThan(0);
      expect(await count(`SELECT count(*) AS n FROM knowledge_nodes WHERE payload->>'runbook' = 'oom'`)).toBe(
        1,
      );
      await ingestRunbooks([oom], { store, embeddings: offline });
    });

    it('two runbooks with one id are refused before anything is written', async () => {
      const [a] = readRunbookDir(bundledRunbooksDir);
      if (!a) throw new Error('no runbooks');
      await expect(
        ingestRunbooks([a, { ...a, source: 'mine/copy.md' }], { store, embeddings: offline }),
      ).rejects.toThrow(`runbook id "${a.id}" is used by both`);
    });
  });

  describe('graph', () => {
    it('links nodes and walks one or two hops in either direction', async () => {
      const one = await store.neighbourhood({ kind: 'problem', key: 'oom' }, 1, ['solves']);
      expect(one.nodes.filter((n) => n.hops === 1).map((n) => n.key)).toEqual(
        expect.arrayContaining(['increase_memory', 'restart_service', 'rollback_task_definition']),
      );
      expect(one.edges.every((e) => e.relation === 'solves')).toBe(true);
      // Two hops: the other problems those solutions also solve.
      const two = await store.neighbourhood({ kind: 'problem', key: 'oom' }, 2, ['solves']);
      expect(two.nodes.filter((n) => n.hops === 2).map((n) => n.key)).toContain('bad_deployment');
      const withRunbooks = await store.neighbourhood({ kind: 'problem', key: 'oom' }, 1);
      expect(withRunbooks.nodes.some((n) => n.kind === 'runbook')).toBe(true);
    });

    it('refuses an edge to a node that does not exist, or a negative weight', async () => {
      await expect(
        store.link({ kind: 'problem', key: 'oom' }, 'causes', { kind: 'problem', key: 'nope' }),
      ).rejects.toThrow('a node does not exist');
      await expect(
        store.link({ kind: 'problem', key: 'oom' }, 'causes', { kind: 'problem', key: 'crash_loop' }, -1),
      ).rejects.toThrow('weight');
    });
  });

  describe('similar incidents', () => {
    const incident = (key: string, service: string, text: string) => ({
      kind: 'incident' as const,
      key,
      title: text,
      content: `Service ${service}: ${text}`,
      cluster: 'shop',
      service,
      fingerprint: `fp-${service}`,
    });

    it('finds past incidents by meaning, filtered by service or fingerprint, with what resolved them', async () => {
      const ids = Array.from({ length: 4 }, () => randomUUID());
      // Many incidents on "api" and one on "cart": a filtered HNSW search must still find cart's.
      const noise = Array.from({ length: 150 }, (_, i) =>
        incident(randomUUID(), 'api', `latency spike number ${i} on checkout`),
      );
      await putNodes(
        [
          incident(ids[0] as string, 'api', 'tasks OOM killed exit code 137 after deploy'),
          incident(ids[1] as string, 'api', 'CannotPullContainerError after deploy'),
          incident(ids[2] as string, 'cart', 'tasks OOM killed exit code 137 under load'),
          ...noise,
        ],
        { store, embeddings: offline },
      );
      await store.recordOutcome(
        outcome({ incidentId: ids[2] as string, fingerprint: 'fp-cart', action: 'increase_memory' }),
      );
      const query = await offline.embedQuery('OutOfMemoryError exit 137');
      const all = await store.similarIncidents(query, { limit: 2 });
      expect(all.map((h) => h.node.key)).toEqual(expect.arrayContaining([ids[0], ids[2]]));
      const cart = await store.similarIncidents(query, { service: 'cart' });
      expect(cart.map((h) => h.node.key)).toEqual([ids[2]]);
      expect(cart[0]?.resolvedBy).toEqual(['increase_memory']);
      const byFingerprint = await store.similarIncidents(query, { fingerprint: 'fp-api', limit: 3 });
      expect(byFingerprint.every((h) => h.node.service === 'api')).toBe(true);
      expect(byFingerprint[0]?.node.key).toBe(ids[0]);
      expect(await store.similarIncidents(query, { service: 'cart', excludeKey: ids[2] })).toEqual([]);
      // A node moved to another service is found under its new service (filters follow the node).
      await putNodes(
        [{ ...incident(ids[0] as string, 'cart', 'tasks OOM killed exit code 137 after deploy') }],
        {
          store,
          embeddings: offline,
        },
      );
      const moved = await store.similarIncidents(query, { service: 'cart' });
      expect(moved.map((h) => h.node.key).sort()).toEqual([ids[0], ids[2]].sort());
    });
  });

  describe('embeddings by model', () => {
    it('stores one vector per model, never mixes them in search, and catches up a model that was down', async () => {
      const other = new OtherModel();
      const both = new EmbeddingModels(other);
      other.down = true;
      const nodes = [
        { kind: 'pattern' as const, key: 'nightly-oom', title: 'OOM every night at the batch run' },
        { kind: 'pattern' as const, key: 'monday-latency', title: 'Latency every Monday morning' },
      ];
      const degraded = await putNodes(nodes, { store, embeddings: both });
      expect(degraded.pendingModels).toEqual(['other-model-v1']);
      expect(degraded.embedded[offlineEmbeddingModel]).toBe(2);
      other.down = false;
      const caughtUp = await putNodes(nodes, { store, embeddings: both });
      expect(caughtUp).toMatchObject({
        pendingModels: [],
        embedded: { 'other-model-v1': 2, [offlineEmbeddingModel]: 0 },
      });
      expect(other.calls).toBe(2);

      const query = await both.embedQuery('nightly OOM');
      expect(query.model).toBe('other-model-v1');
      const hits = await store.nearest(query, { kinds: ['pattern', 'runbook'], limit: 10 });
      // Only the two patterns have other-model vectors; runbooks (offline only) are not compared.
      expect(hits.map((h) => h.node.key).sort()).toEqual(['monday-latency', 'nightly-oom']);
      expect(hits[0]?.node.key).toBe('nightly-oom');
      // Without a kind filter: every kind embedded by that model.
      expect((await store.nearest(query)).map((h) => h.node.key).sort()).toEqual([
        'monday-latency',
        'nightly-oom',
      ]);
    });
  });

  describe('bad input', () => {
    const node = { kind: 'pattern' as const, key: 'bad', title: 'bad' };
    const unit = Array.from({ length: 1024 }, (_, i) => (i === 0 ? 1 : 0));

    it('a wrong-dimension vector is refused and nothing of the batch is written', async () => {
      await expect(
        store.saveNodes([
          { node: { ...node, key: 'fine' }, vectors: new Map([['m', unit]]) },
          { node, vectors: new Map([['m', unit.slice(0, 512)]]) },
        ]),
      ).rejects.toThrow('has 512 dimensions; expected 1024');
      expect(await count(`SELECT count(*) AS n FROM knowledge_nodes WHERE key IN ('bad', 'fine')`)).toBe(0);
      await expect(store.nearest({ model: 'm', vector: [1, 2, 3] })).rejects.toThrow('has 3 dimensions');
    });

    it('empty text, broken Unicode and oversized text are refused with the node named; NUL bytes are dropped', async () => {
      const deps = { store, embeddings: offline };
      await expect(putNodes([{ ...node, title: '  ' }], deps)).rejects.toThrow(
        'title of pattern/bad is empty',
      );
      await expect(putNodes([{ ...node, content: 'a\ud800' }], deps)).rejects.toThrow(
        /pattern\/bad is not valid Unicode/,
      );
      await expect(putNodes([{ ...node, content: 'x'.repeat(20_001) }], deps)).rejects.toThrow(
        /chunk it first/,
      );
      await putNodes([{ ...node, content: 'nul\u0000byte' }], deps);
      expect((await store.node(node))?.content).toBe('nulbyte');
    });
  });

  const t0 = new Date('2026-11-20T12:00:00Z');
  const daysAgo = (d: number) => new Date(t0.getTime() - d * 86_400_000);
  function outcome(over: Partial<OutcomeInput> = {}): OutcomeInput {
    return {
      idempotencyKey: randomUUID(),
      incidentId: randomUUID(),
      cluster: 'shop',
      service: 'api',
      fingerprint: 'fp-rates',
      rootCause: 'oom',
      action: 'restart_service',
      result: 'resolved',
      startedAt: daysAgo(0),
      finishedAt: daysAgo(0),
      ...over,
    };
  }

  describe('outcomes and success rates', () => {
    it('records an outcome once per idempotency key and never changes it', async () => {
      const o = outcome({ fingerprint: 'fp-once' });
      expect(await store.recordOutcome(o)).toBe('recorded');
      expect(await store.recordOutcome(o)).toBe('duplicate');
      expect(
        await count('SELECT count(*) AS n FROM outcomes WHERE idempotency_key = $1', [o.idempotencyKey]),
      ).toBe(1);
      await expect(database.pool.query(`UPDATE outcomes SET result = 'worse'`)).rejects.toThrow(
        /append-only/,
      );
      await expect(
        store.recordOutcome({ ...o, idempotencyKey: 'x', startedAt: daysAgo(-1) }),
      ).rejects.toThrow('cannot finish before it started');
    });

    it('weighs outcomes by recency under a Beta(1, 1) prior', async () => {
      // rollback: resolved now (weight 1), no_effect 30 days ago (weight 0.5, one half-life).
      await store.recordOutcome(outcome({ action: 'rollback_task_definition', finishedAt: daysAgo(0) }));
      await store.recordOutcome(
        outcome({
          action: 'rollback_task_definition',
          result: 'no_effect',
          startedAt: daysAgo(30),
          finishedAt: daysAgo(30),
        }),
      );
      // scale_out: worse and undone today (failures weigh 1 each), resolved 60 days ago (0.25).
      await store.recordOutcome(outcome({ action: 'scale_out', result: 'worse' }));
      await store.recordOutcome(outcome({ action: 'scale_out', result: 'undone' }));
      await store.recordOutcome(
        outcome({ action: 'scale_out', startedAt: daysAgo(60), finishedAt: daysAgo(60) }),
      );
      const rates = await store.successRates({ fingerprint: 'fp-rates' }, { asOf: t0 });
      const rollback = rates.find((r) => r.action === 'rollback_task_definition');
      const scale = rates.find((r) => r.action === 'scale_out');
      // (1 + 1) / (1 + 1 + 1 + 0.5) and (1 + 0.25) / (1 + 0.25 + 1 + 2)
      expect(rollback?.rate).toBeCloseTo(2 / 3.5, 6);
      expect(rollback?.successes).toBeCloseTo(1, 6);
      expect(rollback?.failures).toBeCloseTo(0.5, 6);
      expect(scale?.rate).toBeCloseTo(1.25 / 4.25, 6);
      const [a, b] = [2, 1.5];
      const sd = Math.sqrt((a * b) / ((a + b) ** 2 * (a + b + 1)));
      expect(rollback?.lowerBound).toBeCloseTo(a / (a + b) - 1.2816 * sd, 6);
      // Outcomes after as_of do not count.
      expect(await store.successRates({ fingerprint: 'fp-rates' }, { asOf: daysAgo(45) })).toEqual([
        expect.objectContaining({ action: 'scale_out', outcomes: 1 }),
      ]);
    });

    it('ranks solutions: fingerprint history first, then the root cause, then the runbook order', async () => {
      const ranked = await store.rankedSolutions({ rootCause: 'oom', fingerprint: 'fp-rates' }, t0);
      // fp-rates has history for rollback (0.571) and scale_out (0.294); restart_service and
      // increase_memory resolved other oom fingerprints once each (0.667) and tie, so the
      // runbook's order (increase_memory before restart_service) breaks the tie.
      expect(ranked.map((s) => [s.action, s.basis, Number(s.rate.toFixed(3))])).toEqual([
        ['increase_memory', 'root_cause', 0.667],
        ['restart_service', 'root_cause', 0.667],
        ['rollback_task_definition', 'fingerprint', 0.571],
        ['scale_out', 'fingerprint', 0.294],
      ]);
      // A new fingerprint: root-cause history and the runbook's order decide.
      const fresh = await store.rankedSolutions({ rootCause: 'crash_loop' }, t0);
      expect(fresh.map((s) => [s.action, s.basis, s.edgeWeight])).toEqual([
        ['rollback_task_definition', 'prior', 1],
        ['restart_service', 'prior', 0.5],
      ]);
    });
  });

  describe('audit log', () => {
    it('appends entries with an inputs hash and refuses UPDATE, DELETE and TRUNCATE', async () => {
      const incidentId = randomUUID();
      const inputs = { action: 'restart_service', policy: { autonomy: 'auto' } };
      const entry = await store.audit({
        actor: 'homeostat.plan',
        action: 'policy.decision',
        incidentId,
        inputs,
        result: 'allowed',
      });
      expect(entry.inputsHash).toBe(inputsHashOf(inputs));
      await store.audit({
        actor: 'human:alice',
        action: 'approval',
        incidentId,
        inputs: {},
        result: 'approved',
      });
      const trail = await store.auditTrail(incidentId);
      expect(trail.map((e) => [e.actor, e.result])).toEqual([
        ['homeostat.plan', 'allowed'],
        ['human:alice', 'approved'],
      ]);
      for (const sql of ['UPDATE audit_log SET result = $1', 'DELETE FROM audit_log WHERE result = $1']) {
        await expect(database.pool.query(sql, ['allowed'])).rejects.toThrow(/audit_log is append-only/);
      }
      await expect(database.pool.query('TRUNCATE audit_log')).rejects.toThrow(/TRUNCATE refused/);
      expect(await store.auditTrail(incidentId)).toHaveLength(2);
    });
  });

  describe('embedding cache', () => {
    it('the same text is embedded once per model, across processes sharing the database', async () => {
      const model = new OtherModel();
      const first = new CachedEmbedder(model, new PostgresEmbeddingCache(database.pool));
      const second = new CachedEmbedder(model, new PostgresEmbeddingCache(database.pool));
      const [a] = await first.embed(['  exit code 137 ']);
      const [b, c] = await second.embed(['exit code 137', 'something new']);
      expect(model.calls).toBe(2);
      expect(b).toEqual(a);
      expect(c).toHaveLength(1024);
      expect(await count(`SELECT count(*) AS n FROM embedding_cache WHERE model = 'other-model-v1'`)).toBe(2);
    });
  });

  it('searchKnowledge returns runbook sections and other nodes for the CLI', async () => {
    const result = await searchKnowledge('exit code 137 memory', { store, embeddings: offline });
    expect(result.model).toBe(offlineEmbeddingModel);
    expect(result.runbooks[0]?.node.payload.runbook).toBe('oom');
    expect(result.others.every((h) => h.node.kind !== 'runbook')).toBe(true);
  });
});
