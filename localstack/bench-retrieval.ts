/**
 * Retrieval benchmark: N items of 1024-d (clustered, like real embeddings of
 * similar incidents) bulk-loaded, then the HNSW index built, then 200 queries:
 * recall@10 of the HNSW search against an exact scan, and p50/p99 latency of
 * the search through the Neon driver (PostgresKnowledgeStore.nearest, the same
 * code the agents use). PGlite by default; DATABASE_URL (+ DATABASE_WS_PROXY)
 * runs it on that database instead — use a scratch one: the bench rebuilds the
 * embeddings index and removes its items afterwards.
 */
import { createPool, type Pool } from '../shared/adapters/database.ts';
import { PostgresKnowledgeStore } from '../shared/adapters/knowledge-store.ts';
import { embeddingDimensions, toVectorLiteral } from '../shared/domain/knowledge.ts';
import { migrateLocal, startMigratedDatabase } from './migrate-local.ts';
import { percentile } from './stats.ts';

export interface RetrievalResult {
  items: number;
  queries: number;
  loadSeconds: number;
  itemsPerSecond: number;
  indexBuildSeconds: number;
  recallAt10: number;
  p50Ms: number;
  p99Ms: number;
  exactP50Ms: number;
  usesIndex: boolean;
}

const model = 'bench-v1';

/** mulberry32: a small deterministic PRNG, so every run measures the same data. */
function prng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function gaussian(random: () => number): number {
  const u = Math.max(random(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

const normalise = (v: number[]) => {
  const norm = Math.hypot(...v);
  return v.map((x) => x / norm);
};

/** Points around `clusters` random centres; `spread` sets how far items stray from their centre. */
function clusteredVectors(clusters: number, spread: number, random: () => number) {
  const centres = Array.from({ length: clusters }, () =>
    normalise(Array.from({ length: embeddingDimensions }, () => gaussian(random))),
  );
  return (base?: number[]) => {
    const centre = base ?? (centres[Math.floor(random() * clusters)] as number[]);
    return normalise(centre.map((x) => x + (spread / Math.sqrt(embeddingDimensions)) * gaussian(random)));
  };
}

async function load(pool: Pool, vectors: number[][], batch = 250) {
  for (let i = 0; i < vectors.length; i += batch) {
    const slice = vectors.slice(i, i + batch);
    const keys = slice.map((_, j) => `bench-${i + j}`);
    await pool.query(
      `INSERT INTO knowledge_nodes (kind, key, title, content_hash, service)
       SELECT 'incident', k, 'bench item', repeat('0', 64), 'bench' FROM unnest($1::text[]) AS k`,
      [keys],
    );
    await pool.query(
      `INSERT INTO knowledge_embeddings (node_id, model, content_hash, embedding)
       SELECT n.id, $3, n.content_hash, x.v::vector
         FROM unnest($1::text[], $2::text[]) AS x(k, v)
         JOIN knowledge_nodes n ON n.kind = 'incident' AND n.key = x.k`,
      [keys, slice.map(toVectorLiteral), model],
    );
  }
}

export async function runRetrieval(options: { items: number; queries: number }): Promise<RetrievalResult> {
  const external = process.env.DATABASE_URL;
  let pool: Pool;
  let stop: () => Promise<void>;
  if (external) {
    const db = { url: external, wsProxy: process.env.DATABASE_WS_PROXY };
    await migrateLocal(db);
    pool = createPool(db);
    stop = () => pool.end();
  } else {
    const database = await startMigratedDatabase();
    pool = database.pool;
    stop = () => database.stop();
  }
  const cleanup = () =>
    pool.query(`DELETE FROM knowledge_nodes WHERE kind = 'incident' AND key LIKE 'bench-%'`);
  try {
    await cleanup();
    const random = prng(42);
    const next = clusteredVectors(Math.max(10, Math.round(options.items / 100)), 0.9, random);
    const items = Array.from({ length: options.items }, () => next());

    // Bulk-load first, build the index after: the other order is an order of magnitude slower.
    await pool.query('DROP INDEX IF EXISTS knowledge_embeddings_hnsw_idx');
    let t = performance.now();
    await load(pool, items);
    const loadSeconds = (performance.now() - t) / 1000;
    t = performance.now();
    await pool.query(
      'CREATE INDEX knowledge_embeddings_hnsw_idx ON knowledge_embeddings USING hnsw (embedding vector_cosine_ops)',
    );
    const indexBuildSeconds = (performance.now() - t) / 1000;
    await pool.query('ANALYZE knowledge_nodes; ANALYZE knowledge_embeddings');

    const store = new PostgresKnowledgeStore(pool);
    const queries = Array.from({ length: options.queries }, () =>
      next(items[Math.floor(random() * items.length)]),
    );
    // The shape of PostgresKnowledgeStore.nearest's inner query: is the HNSW index what answers it?
    const plan = await pool.query(
      `EXPLAIN SELECT e.node_id FROM knowledge_embeddings e
        WHERE e.model = $2 AND e.kind = ANY ($3::knowledge_node_kind[]) ORDER BY e.embedding <=> $1::vector LIMIT 10`,
      [toVectorLiteral(queries[0] as number[]), model, ['incident']],
    );
    const usesIndex = plan.rows.some((r) => String(r['QUERY PLAN']).includes('hnsw_idx'));

    const latencies: number[] = [];
    const exactLatencies: number[] = [];
    let found = 0;
    for (const vector of queries) {
      let start = performance.now();
      const exact = await store.nearest({ model, vector }, { kinds: ['incident'], limit: 10, exact: true });
      exactLatencies.push(performance.now() - start);
      start = performance.now();
      const approximate = await store.nearest({ model, vector }, { kinds: ['incident'], limit: 10 });
      latencies.push(performance.now() - start);
      const truth = new Set(exact.map((h) => h.node.id));
      found += approximate.filter((h) => truth.has(h.node.id)).length;
    }
    return {
      items: options.items,
      queries: options.queries,
      loadSeconds,
      itemsPerSecond: options.items / loadSeconds,
      indexBuildSeconds,
      recallAt10: found / (options.queries * 10),
      p50Ms: percentile(latencies, 50),
      p99Ms: percentile(latencies, 99),
      exactP50Ms: percentile(exactLatencies, 50),
      usesIndex,
    };
  } finally {
    await cleanup().catch(() => {});
    await stop();
  }
}
