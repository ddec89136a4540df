/**
 * The knowledge base on Postgres with pgvector (Neon in AWS, PGlite locally),
 * through the Neon serverless driver.
 */
import type { EmbeddingCache, QueryVector } from '../domain/embedding.ts';
import {
  type AuditEntry,
  assertEmbedding,
  contentHashOf,
  type Edge,
  InvalidKnowledgeError,
  type KnowledgeNode,
  type NodeInput,
  type NodeKind,
  type NodeRef,
  nodeKinds,
  type OutcomeInput,
  type Relation,
  type SuccessRate,
  toVectorLiteral,
} from '../domain/knowledge.ts';
import type { RootCause } from '../domain/taxonomy.ts';
import { appendAudit } from './audit-log.ts';
import { type Pool, type PoolClient, withTransaction } from './database.ts';

/** What the store holds for a node: enough to decide whether to re-embed it. */
export interface NodeState {
  contentHash: string;
  /** Models whose vector was computed from the current content. */
  embeddedModels: string[];
}

export interface NodeToSave {
  node: NodeInput;
  /** Vectors of the node's current content, by model. */
  vectors: Map<string, number[]>;
}

export interface SearchHit {
  node: KnowledgeNode;
  /** Cosine distance (0 = same direction). */
  distance: number;
}

export interface SimilarIncident extends SearchHit {
  /** Actions recorded as having resolved that incident. */
  resolvedBy: string[];
}

export interface RunbookHit {
  node: KnowledgeNode;
  /** Reciprocal-rank-fusion score of the full-text and vector rankings. */
  score: number;
  textRank: number | null;
  vectorRank: number | null;
}

export interface RankedSolution {
  action: string;
  rate: number;
  lowerBound: number;
  outcomes: number;
  /** Where the rate comes from: this fingerprint's history, the root cause's, or the prior alone. */
  basis: 'fingerprint' | 'root_cause' | 'prior';
  /** Weight of the solves edge (taxonomy/runbook order), 0 when only outcomes link them. */
  edgeWeight: number;
}

export interface Neighbourhood {
  nodes: Array<KnowledgeNode & { hops: number }>;
  edges: Edge[];
}

export interface KnowledgeStats {
  nodes: Record<string, number>;
  embeddings: Record<string, number>;
  edges: number;
  outcomes: number;
  auditEntries: number;
  cachedEmbeddings: number;
  runbooks: number;
}

export interface SearchOptions {
  /**
   * Candidates the HNSW graph keeps during a search (pgvector hnsw.ef_search):
   * higher is slower and more accurate.
   * @default 100
   */
  efSearch?: number;
}

const nodeColumns = 'n.id, n.kind, n.key, n.title, n.content, n.payload, n.cluster, n.service, n.fingerprint';
/** Row columns are named like the node's fields; this drops the extras (distance, hops, …). */
const toNode = (r: KnowledgeNode): KnowledgeNode => ({
  id: r.id,
  kind: r.kind,
  key: r.key,
  title: r.title,
  content: r.content,
  payload: r.payload,
  cluster: r.cluster,
  service: r.service,
  fingerprint: r.fingerprint,
});

/** A runbook as stored: its chunks' texts in order (each section keeps its heading line). */
export interface StoredRunbook {
  id: string;
  /** The runbook's title (its first chunk's title is the title itself, or "title — heading"). */
  title: string;
  categories: string[];
  actions: string[];
  source: string;
  chunks: string[];
}

const toStoredRunbook = (
  id: string,
  chunkTitle: string,
  payload: Record<string, unknown>,
  chunks: string[],
): StoredRunbook => {
  const heading = typeof payload.heading === 'string' ? payload.heading : '';
  const suffix = ` — ${heading}`;
  return {
    id,
    title: heading && chunkTitle.endsWith(suffix) ? chunkTitle.slice(0, -suffix.length) : chunkTitle,
    categories: Array.isArray(payload.categories) ? (payload.categories as string[]) : [],
    actions: Array.isArray(payload.actions) ? (payload.actions as string[]) : [],
    source: typeof payload.source === 'string' ? payload.source : '',
    chunks,
  };
};

/** Reciprocal rank fusion constant (the usual 60: damps the head of each list). */
const rrfK = 60;

export class PostgresKnowledgeStore {
  private readonly efSearch: number;

  constructor(
    private readonly pool: Pool,
    options: SearchOptions = {},
  ) {
    this.efSearch = options.efSearch ?? 100;
    if (!Number.isInteger(this.efSearch) || this.efSearch < 1 || this.efSearch > 1000) {
      throw new InvalidKnowledgeError('efSearch must be an integer from 1 to 1000');
    }
  }

  /** Current content hash and embedded models of each node that exists, by `kind/key`. */
  async nodeStates(refs: readonly NodeRef[]): Promise<Map<string, NodeState>> {
    if (refs.length === 0) return new Map();
    const { rows } = await this.pool.query(
      `SELECT n.kind, n.key, n.content_hash,
              coalesce(array_agg(e.model) FILTER (WHERE e.content_hash = n.content_hash), '{}') AS models
         FROM knowledge_nodes n
         JOIN unnest($1::text[], $2::text[]) AS r(kind, key) ON n.kind::text = r.kind AND n.key = r.key
         LEFT JOIN knowledge_embeddings e ON e.node_id = n.id
        GROUP BY n.id`,
      [refs.map((r) => r.kind), refs.map((r) => r.key)],
    );
    return new Map(
      rows.map((r) => [`${r.kind}/${r.key}`, { contentHash: r.content_hash, embeddedModels: r.models }]),
    );
  }

  /**
   * Upserts nodes by (kind, key) with the given vectors, all in one transaction.
   * Vectors are validated before anything is written.
   */
  async saveNodes(items: readonly NodeToSave[]): Promise<string[]> {
    for (const { vectors } of items) for (const [model, vector] of vectors) assertEmbedding(vector, model);
    return withTransaction(this.pool, async (client) => {
      const ids: string[] = [];
      for (const { node, vectors } of items) {
        const content = node.content ?? '';
        const hash = contentHashOf(node.title, content);
        // An unchanged node is left alone (the WHERE), so re-ingesting the same content writes nothing.
        const { rows } = await client.query(
          `WITH upsert AS (
             INSERT INTO knowledge_nodes AS k (kind, key, title, content, content_hash, payload, cluster, service, fingerprint)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             ON CONFLICT (kind, key) DO UPDATE
               SET title = EXCLUDED.title, content = EXCLUDED.content, content_hash = EXCLUDED.content_hash,
                   payload = EXCLUDED.payload, cluster = EXCLUDED.cluster, service = EXCLUDED.service,
                   fingerprint = EXCLUDED.fingerprint, updated_at = now()
               WHERE (k.content_hash, k.payload, k.cluster, k.service, k.fingerprint) IS DISTINCT FROM
                     (EXCLUDED.content_hash, EXCLUDED.payload, EXCLUDED.cluster, EXCLUDED.service, EXCLUDED.fingerprint)
             RETURNING id
           )
           SELECT id FROM upsert UNION ALL SELECT id FROM knowledge_nodes WHERE kind = $1 AND key = $2 LIMIT 1`,
          [
            node.kind,
            node.key,
            node.title,
            content,
            hash,
            node.payload ?? {},
            node.cluster ?? null,
            node.service ?? null,
            node.fingerprint ?? null,
          ],
        );
        const id = rows[0].id as string;
        ids.push(id);
        for (const [model, vector] of vectors) {
          await client.query(
            `INSERT INTO knowledge_embeddings (node_id, model, content_hash, embedding)
             VALUES ($1, $2, $3, $4::vector)
             ON CONFLICT (node_id, model) DO UPDATE
               SET content_hash = EXCLUDED.content_hash, embedding = EXCLUDED.embedding, created_at = now()`,
            [id, model, hash, toVectorLiteral(vector)],
          );
        }
      }
      return ids;
    });
  }

  async node(ref: NodeRef): Promise<KnowledgeNode | null> {
    const { rows } = await this.pool.query(
      `SELECT ${nodeColumns} FROM knowledge_nodes n WHERE n.kind = $1 AND n.key = $2`,
      [ref.kind, ref.key],
    );
    return rows[0] ? toNode(rows[0]) : null;
  }

  /** The runbooks the knowledge base holds (bundled and ingested), by id, from their chunks. */
  async runbooks(): Promise<StoredRunbook[]> {
    const { rows } = await this.pool.query(
      `SELECT DISTINCT ON (payload->>'runbook') payload->>'runbook' AS id, title, payload
         FROM knowledge_nodes WHERE kind = 'runbook'
        ORDER BY payload->>'runbook', (payload->>'ordinal')::int`,
    );
    return rows.map((r) => toStoredRunbook(r.id, r.title, r.payload, []));
  }

  /** One runbook put back together from its chunks, in order; null when there is none by that id. */
  async runbook(id: string): Promise<StoredRunbook | null> {
    const { rows } = await this.pool.query(
      `SELECT title, content, payload FROM knowledge_nodes
        WHERE kind = 'runbook' AND payload->>'runbook' = $1 ORDER BY (payload->>'ordinal')::int`,
      [id],
    );
    const first = rows[0];
    if (!first) return null;
    return toStoredRunbook(
      id,
      first.title,
      first.payload,
      rows.map((r) => r.content as string),
    );
  }

  /** Removes a runbook's chunks from `keepChunks` on (the runbook got shorter). */
  async pruneRunbook(runbookId: string, keepChunks: number): Promise<number> {
    const result = await this.pool.query(
      `DELETE FROM knowledge_nodes
        WHERE kind = 'runbook' AND payload->>'runbook' = $1 AND (payload->>'ordinal')::int >= $2`,
      [runbookId, keepChunks],
    );
    return result.rowCount ?? 0;
  }

  /** Creates or re-weights the edge `from —relation→ to`; both nodes must exist. */
  async link(from: NodeRef, relation: Relation, to: NodeRef, weight = 1): Promise<void> {
    if (!(weight >= 0) || !Number.isFinite(weight))
      throw new InvalidKnowledgeError('edge weight must be ≥ 0');
    const { rowCount } = await this.pool.query(
      `INSERT INTO knowledge_edges (from_id, relation, to_id, weight)
       SELECT f.id, $3, t.id, $6
         FROM knowledge_nodes f, knowledge_nodes t
        WHERE f.kind = $1 AND f.key = $2 AND t.kind = $4 AND t.key = $5
       ON CONFLICT (from_id, relation, to_id) DO UPDATE SET weight = EXCLUDED.weight, updated_at = now()`,
      [from.kind, from.key, relation, to.kind, to.key, weight],
    );
    if (!rowCount) {
      throw new InvalidKnowledgeError(
        `cannot link ${from.kind}/${from.key} —${relation}→ ${to.kind}/${to.key}: a node does not exist`,
      );
    }
  }

  /** Links unless the edge exists: an existing edge keeps its weight (a runbook's order, say). */
  async linkIfAbsent(from: NodeRef, relation: Relation, to: NodeRef, weight = 1): Promise<void> {
    if (!(weight >= 0) || !Number.isFinite(weight))
      throw new InvalidKnowledgeError('edge weight must be ≥ 0');
    const { rows } = await this.pool.query(
      `WITH ends AS (
         SELECT f.id AS from_id, t.id AS to_id FROM knowledge_nodes f, knowledge_nodes t
          WHERE f.kind = $1 AND f.key = $2 AND t.kind = $4 AND t.key = $5
       ), inserted AS (
         INSERT INTO knowledge_edges (from_id, relation, to_id, weight)
         SELECT from_id, $3, to_id, $6 FROM ends
         ON CONFLICT (from_id, relation, to_id) DO NOTHING
       )
       SELECT count(*) AS n FROM ends`,
      [from.kind, from.key, relation, to.kind, to.key, weight],
    );
    if (Number(rows[0]?.n) === 0) {
      throw new InvalidKnowledgeError(
        `cannot link ${from.kind}/${from.key} —${relation}→ ${to.kind}/${to.key}: a node does not exist`,
      );
    }
  }

  /** Nodes within `hops` (1 or 2) edges of `ref`, in either direction, and the edges between them. */
  async neighbourhood(
    ref: NodeRef,
    hops: 1 | 2 = 1,
    relations?: readonly Relation[],
  ): Promise<Neighbourhood> {
    const { rows } = await this.pool.query(
      `WITH RECURSIVE start AS (
         SELECT id FROM knowledge_nodes WHERE kind = $1 AND key = $2
       ), walk(id, hops) AS (
         SELECT id, 0 FROM start
         UNION
         SELECT CASE WHEN e.from_id = w.id THEN e.to_id ELSE e.from_id END, w.hops + 1
           FROM walk w JOIN knowledge_edges e ON w.id IN (e.from_id, e.to_id)
          WHERE w.hops < $3 AND ($4::text[] IS NULL OR e.relation::text = ANY ($4))
       )
       SELECT ${nodeColumns}, min(w.hops) AS hops
         FROM walk w JOIN knowledge_nodes n ON n.id = w.id
        GROUP BY n.id ORDER BY min(w.hops), n.kind, n.key`,
      [ref.kind, ref.key, hops, relations ?? null],
    );
    if (rows.length === 0) throw new InvalidKnowledgeError(`no node ${ref.kind}/${ref.key}`);
    const ids = rows.map((r) => r.id as string);
    const edges = await this.pool.query(
      `SELECT from_id, relation, to_id, weight FROM knowledge_edges
        WHERE from_id = ANY ($1) AND to_id = ANY ($1) AND ($2::text[] IS NULL OR relation::text = ANY ($2))
        ORDER BY relation, from_id, to_id`,
      [ids, relations ?? null],
    );
    return {
      nodes: rows.map((r) => ({ ...toNode(r), hops: Number(r.hops) })),
      edges: edges.rows.map((e) => ({
        fromId: e.from_id,
        relation: e.relation,
        toId: e.to_id,
        weight: Number(e.weight),
      })),
    };
  }

  /**
   * Runs `work` in a transaction with the HNSW settings for filtered search:
   * iterative scans keep walking the graph until enough rows pass the filters
   * (model, kind, service…) instead of returning fewer than asked.
   */
  private vectorSearch<T>(work: (client: PoolClient) => Promise<T>, exact = false): Promise<T> {
    return withTransaction(this.pool, async (client) => {
      await client.query(
        exact
          ? 'SET LOCAL enable_indexscan = off'
          : `SET LOCAL hnsw.ef_search = ${this.efSearch}; SET LOCAL hnsw.iterative_scan = relaxed_order`,
      );
      return work(client);
    });
  }

  /**
   * Nodes nearest to `query` among those embedded by the same model.
   * `exact` scans every vector (the recall baseline for the benchmark).
   */
  async nearest(
    query: QueryVector,
    options: { kinds?: readonly NodeKind[]; limit?: number; exact?: boolean } = {},
  ): Promise<SearchHit[]> {
    assertEmbedding(query.vector, query.model);
    const limit = options.limit ?? 10;
    return this.vectorSearch(async (client) => {
      // Materialised so the relaxed order of an iterative scan is re-sorted exactly.
      const { rows } = await client.query(
        `WITH hits AS MATERIALIZED (
           SELECT e.node_id, e.embedding <=> $1::vector AS distance
             FROM knowledge_embeddings e
            WHERE e.model = $2 AND e.kind = ANY ($3::knowledge_node_kind[])
            ORDER BY e.embedding <=> $1::vector LIMIT $4
         )
         SELECT ${nodeColumns}, h.distance FROM hits h JOIN knowledge_nodes n ON n.id = h.node_id
          ORDER BY h.distance`,
        [toVectorLiteral(query.vector), query.model, options.kinds ?? nodeKinds, limit],
      );
      return rows.map((r) => ({ node: toNode(r), distance: Number(r.distance) }));
    }, options.exact);
  }

  /** Past incidents most like `query`, optionally only for one service or one fingerprint. */
  async similarIncidents(
    query: QueryVector,
    filter: {
      cluster?: string;
      service?: string;
      fingerprint?: string;
      excludeKey?: string;
      limit?: number;
    } = {},
  ): Promise<SimilarIncident[]> {
    assertEmbedding(query.vector, query.model);
    return this.vectorSearch(async (client) => {
      const { rows } = await client.query(
        `WITH hits AS MATERIALIZED (
           SELECT e.node_id, e.embedding <=> $1::vector AS distance
             FROM knowledge_embeddings e
            WHERE e.model = $2 AND e.kind = 'incident'
              AND ($3::text IS NULL OR e.cluster = $3) AND ($4::text IS NULL OR e.service = $4)
              AND ($5::text IS NULL OR e.fingerprint = $5)
            ORDER BY e.embedding <=> $1::vector LIMIT $7 + 1
         )
         SELECT ${nodeColumns}, h.distance,
                coalesce((SELECT array_agg(DISTINCT o.action ORDER BY o.action) FROM outcomes o
                           WHERE o.incident_id::text = n.key AND o.result = 'resolved'), '{}') AS resolved_by
           FROM hits h JOIN knowledge_nodes n ON n.id = h.node_id
          WHERE $6::text IS NULL OR n.key <> $6
          ORDER BY h.distance LIMIT $7`,
        [
          toVectorLiteral(query.vector),
          query.model,
          filter.cluster ?? null,
          filter.service ?? null,
          filter.fingerprint ?? null,
          filter.excludeKey ?? null,
          filter.limit ?? 5,
        ],
      );
      return rows.map((r) => ({ node: toNode(r), distance: Number(r.distance), resolvedBy: r.resolved_by }));
    });
  }

  /**
   * Runbook chunks for `text`: the full-text ranking (any of the words, English
   * stemming, cover-density rank) and the vector ranking fused by reciprocal rank (k = 60), so a
   * chunk that both find comes first and either alone still counts.
   */
  async searchRunbooks(text: string, query: QueryVector, limit = 5): Promise<RunbookHit[]> {
    assertEmbedding(query.vector, query.model);
    const pool = Math.max(limit * 4, 20);
    return this.vectorSearch(async (client) => {
      const { rows } = await client.query(
        `WITH by_text AS (
           SELECT n.id, row_number() OVER (ORDER BY ts_rank_cd(n.search, q) DESC, n.key) AS rank
             FROM knowledge_nodes n,
                  -- Any of the words (OR), ranked by how many and how close: short queries
                  -- like "OOM exit 137" rarely have every word in one section.
                  to_tsquery('english', replace(websearch_to_tsquery('english', $1)::text, ' & ', ' | ')) q
            WHERE n.kind = 'runbook' AND n.search @@ q
            ORDER BY rank LIMIT $4
         ), by_vector AS MATERIALIZED (
           SELECT e.node_id AS id, e.embedding <=> $2::vector AS distance
             FROM knowledge_embeddings e
            WHERE e.model = $3 AND e.kind = 'runbook'
            ORDER BY e.embedding <=> $2::vector LIMIT $4
         ), ranked_vector AS (
           SELECT id, row_number() OVER (ORDER BY distance, id) AS rank FROM by_vector
         ), fused AS (
           SELECT coalesce(t.id, v.id) AS id, t.rank AS text_rank, v.rank AS vector_rank,
                  coalesce(1.0 / (${rrfK} + t.rank), 0) + coalesce(1.0 / (${rrfK} + v.rank), 0) AS score
             FROM by_text t FULL JOIN ranked_vector v ON v.id = t.id
         )
         SELECT ${nodeColumns}, f.score, f.text_rank, f.vector_rank
           FROM fused f JOIN knowledge_nodes n ON n.id = f.id
          ORDER BY f.score DESC, n.key LIMIT $5`,
        [text, toVectorLiteral(query.vector), query.model, pool, limit],
      );
      return rows.map((r) => ({
        node: toNode(r),
        score: Number(r.score),
        textRank: r.text_rank === null ? null : Number(r.text_rank),
        vectorRank: r.vector_rank === null ? null : Number(r.vector_rank),
      }));
    });
  }

  /** Records an executed action's outcome once per idempotency key. */
  async recordOutcome(outcome: OutcomeInput): Promise<'recorded' | 'duplicate'> {
    if (outcome.finishedAt < outcome.startedAt) {
      throw new InvalidKnowledgeError('an outcome cannot finish before it started');
    }
    const { rowCount } = await this.pool.query(
      `INSERT INTO outcomes (idempotency_key, incident_id, cluster, service, fingerprint, root_cause, action,
                             parameters, result, started_at, finished_at, time_to_resolve_ms)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
       ON CONFLICT (idempotency_key) DO NOTHING`,
      [
        outcome.idempotencyKey,
        outcome.incidentId,
        outcome.cluster,
        outcome.service,
        outcome.fingerprint,
        outcome.rootCause,
        outcome.action,
        outcome.parameters ?? {},
        outcome.result,
        outcome.startedAt,
        outcome.finishedAt,
        outcome.timeToResolveMs ?? null,
      ],
    );
    return rowCount ? 'recorded' : 'duplicate';
  }

  /** Success rates for a fingerprint and/or a root cause (see migrations/0003 for the maths). */
  async successRates(
    filter: { fingerprint?: string; rootCause?: string },
    options: { asOf?: Date; halfLifeDays?: number; priorSuccesses?: number; priorFailures?: number } = {},
  ): Promise<SuccessRate[]> {
    const { rows } = await this.pool.query(
      `SELECT scope, key, action, outcomes, successes, failures, rate, lower_bound
         FROM action_success_rates($1, $2, $3, $4)
        WHERE (scope = 'fingerprint' AND key = $5) OR (scope = 'root_cause' AND key = $6)
        ORDER BY scope, rate DESC, action`,
      [
        options.halfLifeDays ?? 30,
        options.priorSuccesses ?? 1,
        options.priorFailures ?? 1,
        options.asOf ?? new Date(),
        filter.fingerprint ?? null,
        filter.rootCause ?? null,
      ],
    );
    return rows.map((r) => ({
      scope: r.scope,
      key: r.key,
      action: r.action,
      outcomes: Number(r.outcomes),
      successes: Number(r.successes),
      failures: Number(r.failures),
      rate: Number(r.rate),
      lowerBound: Number(r.lower_bound),
    }));
  }

  /**
   * Solutions for a problem, best first: every action linked to the root cause
   * by a `solves` edge or seen in its outcomes, rated by this fingerprint's
   * history when it has some, else by the root cause's, else by the prior
   * (ties broken by the edge weight, i.e. the runbooks' order).
   */
  async rankedSolutions(problem: { rootCause: RootCause; fingerprint?: string }, asOf = new Date()) {
    const rates = await this.successRates(problem, { asOf });
    const { rows } = await this.pool.query(
      `SELECT s.key AS action, max(e.weight) AS weight
         FROM knowledge_edges e
         JOIN knowledge_nodes s ON s.id = e.from_id AND s.kind = 'solution'
         JOIN knowledge_nodes p ON p.id = e.to_id AND p.kind = 'problem'
        WHERE e.relation = 'solves' AND p.key = $1
        GROUP BY s.key`,
      [problem.rootCause],
    );
    const edgeWeight = new Map(rows.map((r) => [r.action as string, Number(r.weight)]));
    const actions = new Set([...edgeWeight.keys(), ...rates.map((r) => r.action)]);
    const prior = 0.5;
    const solutions: RankedSolution[] = [...actions].map((action) => {
      const rate =
        rates.find((r) => r.scope === 'fingerprint' && r.action === action) ??
        rates.find((r) => r.scope === 'root_cause' && r.action === action);
      return {
        action,
        rate: rate?.rate ?? prior,
        lowerBound: rate?.lowerBound ?? 0,
        outcomes: rate?.outcomes ?? 0,
        basis: rate?.scope ?? 'prior',
        edgeWeight: edgeWeight.get(action) ?? 0,
      };
    });
    return solutions.sort(
      (a, b) => b.rate - a.rate || b.edgeWeight - a.edgeWeight || a.action.localeCompare(b.action),
    );
  }

  /** Appends to the audit log (which refuses updates and deletes). */
  async audit(entry: AuditEntry): Promise<{ id: number; inputsHash: string }> {
    const [written] = await appendAudit(this.pool, [entry]);
    return written as { id: number; inputsHash: string };
  }

  async auditTrail(incidentId: string) {
    const { rows } = await this.pool.query(
      `SELECT id, at, actor, action, inputs_hash, inputs, result, detail FROM audit_log
        WHERE incident_id = $1 ORDER BY id`,
      [incidentId],
    );
    return rows.map((r) => ({
      id: Number(r.id),
      at: new Date(r.at),
      actor: r.actor as string,
      action: r.action as string,
      inputsHash: r.inputs_hash as string,
      inputs: r.inputs as Record<string, unknown>,
      result: r.result as string,
      detail: r.detail as Record<string, unknown>,
    }));
  }

  async stats(): Promise<KnowledgeStats> {
    const { rows } = await this.pool.query(
      `SELECT 'node' AS what, kind::text AS key, count(*) AS n FROM knowledge_nodes GROUP BY kind
       UNION ALL SELECT 'embedding', model, count(*) FROM knowledge_embeddings GROUP BY model
       UNION ALL SELECT 'edges', '', count(*) FROM knowledge_edges
       UNION ALL SELECT 'outcomes', '', count(*) FROM outcomes
       UNION ALL SELECT 'audit', '', count(*) FROM audit_log
       UNION ALL SELECT 'cache', '', count(*) FROM embedding_cache
       UNION ALL SELECT 'runbooks', '', count(DISTINCT payload->>'runbook') FROM knowledge_nodes WHERE kind = 'runbook'`,
    );
    const stats: KnowledgeStats = {
      nodes: {},
      embeddings: {},
      edges: 0,
      outcomes: 0,
      auditEntries: 0,
      cachedEmbeddings: 0,
      runbooks: 0,
    };
    for (const r of rows) {
      const n = Number(r.n);
      if (r.what === 'node') stats.nodes[r.key] = n;
      else if (r.what === 'embedding') stats.embeddings[r.key] = n;
      else if (r.what === 'edges') stats.edges = n;
      else if (r.what === 'outcomes') stats.outcomes = n;
      else if (r.what === 'audit') stats.auditEntries = n;
      else if (r.what === 'cache') stats.cachedEmbeddings = n;
      else if (r.what === 'runbooks') stats.runbooks = n;
    }
    return stats;
  }
}

/** The embedding cache table. */
export class PostgresEmbeddingCache implements EmbeddingCache {
  constructor(private readonly pool: Pool) {}

  async get(model: string, contentHashes: readonly string[]): Promise<Map<string, number[]>> {
    if (contentHashes.length === 0) return new Map();
    const { rows } = await this.pool.query(
      'SELECT content_hash, embedding::text AS embedding FROM embedding_cache WHERE model = $1 AND content_hash = ANY ($2)',
      [model, contentHashes],
    );
    return new Map(
      rows.map((r) => [r.content_hash as string, (JSON.parse(r.embedding) as number[]).map(Math.fround)]),
    );
  }

  async put(model: string, entries: ReadonlyArray<{ contentHash: string; vector: number[] }>): Promise<void> {
    if (entries.length === 0) return;
    for (const { vector } of entries) assertEmbedding(vector, model);
    await this.pool.query(
      `INSERT INTO embedding_cache (model, content_hash, embedding)
       SELECT $1, h, v::vector FROM unnest($2::text[], $3::text[]) AS x(h, v)
       ON CONFLICT (model, content_hash) DO NOTHING`,
      [model, entries.map((e) => e.contentHash), entries.map((e) => toVectorLiteral(e.vector))],
    );
  }
}
