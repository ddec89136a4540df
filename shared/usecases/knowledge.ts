/** Writing to and reading from the knowledge base: nodes with their embeddings, runbooks, search. */
import type { EmbeddingModels } from '../domain/embedding.ts';
import {
  cleanText,
  contentHashOf,
  InvalidKnowledgeError,
  type KnowledgeNode,
  type NodeInput,
  type NodeKind,
  type NodeRef,
  type Relation,
} from '../domain/knowledge.ts';
import { chunkRunbook, type Runbook } from '../domain/runbooks.ts';

/** What the use-cases need from the store (PostgresKnowledgeStore implements it). */
export interface KnowledgeWriter {
  nodeStates(
    refs: readonly NodeRef[],
  ): Promise<Map<string, { contentHash: string; embeddedModels: string[] }>>;
  saveNodes(items: ReadonlyArray<{ node: NodeInput; vectors: Map<string, number[]> }>): Promise<string[]>;
  pruneRunbook(runbookId: string, keepChunks: number): Promise<number>;
  link(from: NodeRef, relation: Relation, to: NodeRef, weight?: number): Promise<void>;
}

export interface PutReport {
  nodes: number;
  /** Vectors computed, by model (0 for content already embedded). */
  embedded: Record<string, number>;
  /** Models that could not embed now (Bedrock unavailable); the next ingest fills them in. */
  pendingModels: string[];
}

/** The text a node is embedded from. */
const embeddingText = (node: NodeInput) => (node.content ? `${node.title}\n${node.content}` : node.title);

/**
 * Upserts nodes and embeds, per model, only what is new, changed or missing a
 * vector — so re-ingesting the same content calls no model, and a model that
 * was down last time is caught up.
 */
export async function putNodes(
  inputs: readonly NodeInput[],
  deps: { store: KnowledgeWriter; embeddings: EmbeddingModels },
): Promise<PutReport> {
  const nodes = inputs.map((node) => ({
    ...node,
    title: cleanText(node.title, `title of ${node.kind}/${node.key}`),
    content:
      node.content === undefined || node.content.trim() === ''
        ? ''
        : cleanText(node.content, `${node.kind}/${node.key}`),
  }));
  const seen = new Set<string>();
  for (const n of nodes) {
    const ref = `${n.kind}/${n.key}`;
    if (seen.has(ref)) throw new InvalidKnowledgeError(`${ref} appears twice in one write`);
    seen.add(ref);
  }
  const states = await deps.store.nodeStates(nodes);
  const vectors = nodes.map(() => new Map<string, number[]>());
  const report: PutReport = { nodes: nodes.length, embedded: {}, pendingModels: [] };
  for (const model of deps.embeddings.models) {
    const todo = nodes
      .map((node, i) => ({ node, i }))
      .filter(({ node }) => {
        const state = states.get(`${node.kind}/${node.key}`);
        const current = state?.contentHash === contentHashOf(node.title, node.content);
        return !current || !state?.embeddedModels.includes(model);
      });
    report.embedded[model] = 0;
    if (todo.length === 0) continue;
    const computed = await deps.embeddings.tryEmbed(
      model,
      todo.map(({ node }) => embeddingText(node)),
    );
    if (!computed) {
      report.pendingModels.push(model);
      continue;
    }
    for (const [j, { i }] of todo.entries()) vectors[i]?.set(model, computed[j] as number[]);
    report.embedded[model] = todo.length;
  }
  await deps.store.saveNodes(
    nodes.map((node, i) => ({ node, vectors: vectors[i] as Map<string, number[]> })),
  );
  return report;
}

export interface RunbookIngestReport extends PutReport {
  runbooks: number;
  chunks: number;
  /** Chunks removed because a runbook got shorter. */
  pruned: number;
}

/**
 * Ingests runbooks: chunks embedded and stored with their metadata; each
 * category becomes a problem node the chunks mitigate, and each recommended
 * action a solution node that solves it (weighted by the runbook's order).
 * Runbook ids must be unique within one ingest.
 */
export async function ingestRunbooks(
  runbooks: readonly Runbook[],
  deps: { store: KnowledgeWriter; embeddings: EmbeddingModels },
): Promise<RunbookIngestReport> {
  const ids = new Map<string, string>();
  for (const runbook of runbooks) {
    const other = ids.get(runbook.id);
    if (other) {
      throw new InvalidKnowledgeError(
        `runbook id "${runbook.id}" is used by both ${other} and ${runbook.source}`,
      );
    }
    ids.set(runbook.id, runbook.source);
  }
  const chunked = runbooks.map((runbook) => ({ runbook, chunks: chunkRunbook(runbook) }));
  const nodes: NodeInput[] = chunked.flatMap(({ runbook, chunks }) =>
    chunks.map((chunk) => ({
      kind: 'runbook' as const,
      key: `${runbook.id}#${chunk.ordinal}`,
      title: chunk.heading === runbook.title ? runbook.title : `${runbook.title} — ${chunk.heading}`,
      content: chunk.text,
      payload: {
        runbook: runbook.id,
        ordinal: chunk.ordinal,
        chunks: chunks.length,
        heading: chunk.heading,
        source: runbook.source,
        categories: runbook.categories,
        actions: runbook.actions,
      },
    })),
  );
  const categories = [...new Set(runbooks.flatMap((r) => r.categories))];
  const actions = [...new Set(runbooks.flatMap((r) => r.actions))];
  nodes.push(
    ...categories.map((c) => ({
      kind: 'problem' as const,
      key: c,
      title: `Root cause: ${c.replaceAll('_', ' ')}`,
    })),
    ...actions.map((a) => ({
      kind: 'solution' as const,
      key: a,
      title: `Action: ${a.replaceAll('_', ' ')}`,
    })),
  );
  const report = await putNodes(nodes, deps);
  let pruned = 0;
  for (const { runbook, chunks } of chunked) {
    pruned += await deps.store.pruneRunbook(runbook.id, chunks.length);
    for (const category of runbook.categories) {
      const problem = { kind: 'problem' as const, key: category };
      for (const chunk of chunks) {
        await deps.store.link(
          { kind: 'runbook', key: `${runbook.id}#${chunk.ordinal}` },
          'mitigates',
          problem,
        );
      }
      // First-listed action weighs 1, the next 1/2, …: the runbook's order of preference.
      for (const [rank, action] of runbook.actions.entries()) {
        await deps.store.link({ kind: 'solution', key: action }, 'solves', problem, 1 / (rank + 1));
      }
    }
  }
  return {
    ...report,
    runbooks: runbooks.length,
    chunks: nodes.length - categories.length - actions.length,
    pruned,
  };
}

export interface KnowledgeSearcher {
  nearest(
    query: { model: string; vector: number[] },
    options: { kinds?: readonly NodeKind[]; limit?: number },
  ): Promise<Array<{ node: KnowledgeNode; distance: number }>>;
  searchRunbooks(
    text: string,
    query: { model: string; vector: number[] },
    limit?: number,
  ): Promise<
    Array<{ node: KnowledgeNode; score: number; textRank: number | null; vectorRank: number | null }>
  >;
}

/** Everything the knowledge base knows about `text`: runbook sections (hybrid) and other nodes (by meaning). */
export async function searchKnowledge(
  text: string,
  deps: { store: KnowledgeSearcher; embeddings: EmbeddingModels },
  limit = 5,
) {
  const query = await deps.embeddings.embedQuery(text);
  const [runbooks, others] = await Promise.all([
    deps.store.searchRunbooks(text, query, limit),
    deps.store.nearest(query, {
      kinds: ['problem', 'solution', 'pattern', 'incident', 'service', 'action', 'agent'],
      limit,
    }),
  ]);
  return { model: query.model, runbooks, others };
}
