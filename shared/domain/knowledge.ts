/** The knowledge base's vocabulary and the rules every stored text and vector obeys. */
import { createHash } from 'node:crypto';
import { HomeostatError } from './errors.ts';
import type { CatalogAction, RootCause } from './taxonomy.ts';

export const nodeKinds = [
  'problem',
  'solution',
  'pattern',
  'runbook',
  'service',
  'incident',
  'action',
  'agent',
] as const;
export type NodeKind = (typeof nodeKinds)[number];

export const relations = [
  'solves',
  'causes',
  'requires',
  'similar_to',
  'evolves_into',
  'triggers',
  'leads_to',
  'mitigates',
  'depends_on',
  'conflicts_with',
] as const;
export type Relation = (typeof relations)[number];

export const outcomeResults = ['resolved', 'no_effect', 'worse', 'undone', 'error'] as const;
export type OutcomeResult = (typeof outcomeResults)[number];

/** Every vector in the knowledge base has this many dimensions (Titan Text Embeddings V2). */
export const embeddingDimensions = 1024;

/** Longest text one node (or one embedding request) may hold; longer documents are chunked first. */
export const maxTextChars = 20_000;

/** Input the knowledge base refuses, with the reason; nothing is written. */
export class InvalidKnowledgeError extends HomeostatError {
  override readonly name = 'InvalidKnowledgeError';
}

/**
 * Text as stored and embedded: Unicode-normalised (NFC), NUL bytes removed
 * (Postgres text cannot hold them), trimmed. Empty text and broken UTF-16
 * (lone surrogates, i.e. text that was invalid UTF-8 upstream) are refused.
 */
export function cleanText(text: string, what = 'text'): string {
  if (!text.isWellFormed()) {
    throw new InvalidKnowledgeError(`${what} is not valid Unicode (lone surrogate: invalid UTF-8 upstream?)`);
  }
  const cleaned = text.normalize('NFC').replaceAll('\u0000', '').trim();
  if (cleaned === '') throw new InvalidKnowledgeError(`${what} is empty`);
  if (cleaned.length > maxTextChars) {
    throw new InvalidKnowledgeError(
      `${what} is ${cleaned.length} characters; the limit is ${maxTextChars} (chunk it first)`,
    );
  }
  return cleaned;
}

export const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

/** The hash a node's content is known by: same title and content ⇒ same hash ⇒ no re-ingest. */
export const contentHashOf = (title: string, content: string): string => sha256(`${title}\u0000${content}`);

/** Refuses a vector of the wrong size, with non-finite values, or all zeros (no direction for cosine). */
export function assertEmbedding(vector: readonly number[], model: string): void {
  if (vector.length !== embeddingDimensions) {
    throw new InvalidKnowledgeError(
      `embedding from ${model} has ${vector.length} dimensions; expected ${embeddingDimensions}`,
    );
  }
  let norm = 0;
  for (const value of vector) {
    if (!Number.isFinite(value))
      throw new InvalidKnowledgeError(`embedding from ${model} has a non-finite value`);
    norm += value * value;
  }
  if (norm === 0) throw new InvalidKnowledgeError(`embedding from ${model} is all zeros`);
}

/** pgvector's text form: '[0.1,0.2,…]'. */
export const toVectorLiteral = (vector: readonly number[]): string => `[${vector.join(',')}]`;

/** Canonical JSON (keys sorted at every level), so equal inputs hash equally. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

/** The hash an audit entry records of what a decision was based on. */
export const inputsHashOf = (inputs: unknown): string => sha256(canonicalJson(inputs));

export interface KnowledgeNode {
  id: string;
  kind: NodeKind;
  key: string;
  title: string;
  content: string;
  payload: Record<string, unknown>;
  cluster: string | null;
  service: string | null;
  fingerprint: string | null;
}

/** A node by its natural key. */
export interface NodeRef {
  kind: NodeKind;
  key: string;
}

export interface NodeInput {
  kind: NodeKind;
  key: string;
  title: string;
  content?: string;
  payload?: Record<string, unknown>;
  cluster?: string;
  service?: string;
  fingerprint?: string;
}

export interface Edge {
  fromId: string;
  relation: Relation;
  toId: string;
  weight: number;
}

export interface OutcomeInput {
  /** Incident and step, e.g. `${incidentId}:act:1`: recording twice is a no-op. */
  idempotencyKey: string;
  incidentId: string;
  cluster: string;
  service: string;
  fingerprint: string;
  rootCause: RootCause;
  action: CatalogAction;
  parameters?: Record<string, unknown>;
  result: OutcomeResult;
  startedAt: Date;
  finishedAt: Date;
  timeToResolveMs?: number;
}

export interface SuccessRate {
  scope: 'fingerprint' | 'root_cause';
  key: string;
  action: string;
  outcomes: number;
  /** Recency-weighted successes and failures. */
  successes: number;
  failures: number;
  /** Posterior mean of Beta(prior + successes, prior + failures). */
  rate: number;
  /** ≈ 10th percentile of that Beta: the cautious ranking key. */
  lowerBound: number;
}

export interface AuditEntry {
  /** Who decided or acted: `homeostat.<agent>` or `human:<name>`. */
  actor: string;
  /** What was decided or done, e.g. `policy.decision`, `action.executed`. */
  action: string;
  incidentId?: string;
  /** What the decision was based on; stored with its hash. */
  inputs: Record<string, unknown>;
  result: string;
  detail?: Record<string, unknown>;
}
