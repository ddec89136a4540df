/**
 * Embeddings behind one interface: Bedrock Titan Text Embeddings V2 in AWS
 * (adapter in shared/adapters), and an offline deterministic embedder of the
 * same dimension for local runs and Bedrock outages.
 */
import { DependencyUnavailableError } from './errors.ts';
import {
  assertEmbedding,
  cleanText,
  embeddingDimensions,
  InvalidKnowledgeError,
  sha256,
} from './knowledge.ts';

export interface Embedder {
  /** Recorded next to every vector; search compares only vectors of one model. */
  readonly model: string;
  /** One L2-normalised vector of `embeddingDimensions` per text, in order. */
  embed(texts: readonly string[]): Promise<number[][]>;
}

/** Stored vectors by (model, hash of the text). */
export interface EmbeddingCache {
  get(model: string, contentHashes: readonly string[]): Promise<Map<string, number[]>>;
  put(model: string, entries: ReadonlyArray<{ contentHash: string; vector: number[] }>): Promise<void>;
}

/** Wraps an embedder so the same text is never sent to it twice. */
export class CachedEmbedder implements Embedder {
  readonly model: string;

  constructor(
    private readonly inner: Embedder,
    private readonly cache: EmbeddingCache,
  ) {
    this.model = inner.model;
  }

  async embed(texts: readonly string[]): Promise<number[][]> {
    const cleaned = texts.map((t) => cleanText(t));
    const hashes = cleaned.map(sha256);
    const known = await this.cache.get(this.model, [...new Set(hashes)]);
    const missing = new Map<string, string>();
    hashes.forEach((hash, i) => {
      if (!known.has(hash)) missing.set(hash, cleaned[i] as string);
    });
    if (missing.size > 0) {
      const vectors = await this.inner.embed([...missing.values()]);
      // Stored vectors are float32 (pgvector); rounding fresh ones too makes a hit equal a miss.
      const fresh = [...missing.keys()].map((contentHash, i) => ({
        contentHash,
        vector: (vectors[i] ?? []).map(Math.fround),
      }));
      for (const { vector } of fresh) assertEmbedding(vector, this.model);
      await this.cache.put(this.model, fresh);
      for (const { contentHash, vector } of fresh) known.set(contentHash, vector);
    }
    return hashes.map((hash) => known.get(hash) as number[]);
  }
}

export const offlineEmbeddingModel = 'homeostat-hash-v1';
/** Amazon Titan Text Embeddings V2, the default in AWS. */
export const titanEmbedV2 = 'amazon.titan-embed-text-v2:0';

const stopwords = new Set(
  'a an and are as at be by for from has have in into is it its of on or that the this to was were will with'.split(
    ' ',
  ),
);

/** Crude suffix stripping so "killed", "kills" and "killing" meet. */
function stem(token: string): string {
  if (token.length > 5 && token.endsWith('ing')) return token.slice(0, -3);
  if (token.length > 4 && token.endsWith('ed')) return token.slice(0, -2);
  if (token.length > 3 && token.endsWith('s') && !token.endsWith('ss')) return token.slice(0, -1);
  return token;
}

/** Words of a text with what differs between occurrences (ARNs, ids, addresses, times) removed. */
export function embeddingTokens(text: string): string[] {
  return text
    .replace(/([a-z])([A-Z])/g, '$1 $2')
    .toLowerCase()
    .replace(/arn:aws[a-z-]*:\S+/g, ' ')
    .replace(/\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/g, ' ')
    .replace(/\b(?=[0-9a-f]*\d)[0-9a-f]{8,}\b/g, ' ')
    .replace(/\b\d{1,3}(\.\d{1,3}){3}(:\d+)?\b/g, ' ')
    .replace(/\b\d{4}-\d{2}-\d{2}[t ][\d:.]+z?/g, ' ')
    .split(/[^\p{L}\p{N}]+/u)
    .filter((t) => t !== '' && !stopwords.has(t) && !/^\d{5,}$/.test(t))
    .map(stem);
}

/** FNV-1a, 32-bit. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/**
 * Feature hashing over words, word pairs and character trigrams into 1024
 * signed buckets, L2-normalised. Deterministic, dependency-free and fast: the
 * local default and the fallback when Bedrock is unavailable. It captures shared
 * vocabulary (trigrams catch "OutOfMemory" vs "memory"), not meaning.
 */
export class HashingEmbedder implements Embedder {
  readonly model = offlineEmbeddingModel;

  async embed(texts: readonly string[]): Promise<number[][]> {
    return texts.map((t) => this.embedOne(t));
  }

  embedOne(text: string): number[] {
    const cleaned = cleanText(text);
    const vector = new Array<number>(embeddingDimensions).fill(0);
    const add = (feature: string, weight: number) => {
      const hash = fnv1a(feature);
      vector[hash % embeddingDimensions] =
        (vector[hash % embeddingDimensions] ?? 0) + (hash & 0x80000000 ? -weight : weight);
    };
    const tokens = embeddingTokens(cleaned);
    if (tokens.length === 0) add(`t:${cleaned}`, 1);
    tokens.forEach((token, i) => {
      add(`w:${token}`, 1);
      const next = tokens[i + 1];
      if (next) add(`p:${token} ${next}`, 0.5);
      if (token.length >= 4) {
        const padded = `^${token}$`;
        for (let j = 0; j + 3 <= padded.length; j++) add(`c:${padded.slice(j, j + 3)}`, 0.2);
      }
    });
    const norm = Math.sqrt(vector.reduce((sum, v) => sum + v * v, 0));
    // Opposite signs can cancel exactly only in contrived texts; give them a direction anyway.
    if (norm === 0) return this.embedOne(`${cleaned} ${cleaned.length}`);
    return vector.map((v) => v / norm);
  }
}

/** A query vector and the model that made it (search compares it only with that model's vectors). */
export interface QueryVector {
  model: string;
  vector: number[];
}

/**
 * The models a deployment embeds with: the configured one and, always, the
 * offline one. Storing both costs little and means search keeps working,
 * model-consistently, while Bedrock is down.
 */
export class EmbeddingModels {
  readonly offline: HashingEmbedder;

  constructor(
    readonly primary: Embedder,
    private readonly onDegraded: (error: DependencyUnavailableError) => void = () => {},
  ) {
    this.offline = primary instanceof HashingEmbedder ? primary : new HashingEmbedder();
  }

  /** Every model a stored node should have a vector from, primary first. */
  get models(): string[] {
    return [...new Set([this.primary.model, this.offline.model])];
  }

  embedderFor(model: string): Embedder {
    if (model === this.primary.model) return this.primary;
    if (model === this.offline.model) return this.offline;
    throw new InvalidKnowledgeError(`no embedder for model ${model}`);
  }

  /**
   * Vectors of `texts` from `model`; null when that model is the primary and
   * it is unavailable (the caller stores what it has and fills the rest later).
   */
  async tryEmbed(model: string, texts: readonly string[]): Promise<number[][] | null> {
    try {
      const vectors = await this.embedderFor(model).embed(texts);
      for (const v of vectors) assertEmbedding(v, model);
      return vectors;
    } catch (error) {
      if (!(error instanceof DependencyUnavailableError) || model === this.offline.model) throw error;
      this.onDegraded(error);
      return null;
    }
  }

  /** A query vector from the primary model, or from the offline one while the primary is unavailable. */
  async embedQuery(text: string): Promise<QueryVector> {
    for (const model of this.models) {
      const vectors = await this.tryEmbed(model, [text]);
      const vector = vectors?.[0];
      if (vector) return { model, vector };
    }
    // Unreachable: the offline model either answers or throws.
    throw new DependencyUnavailableError('embeddings', 'no embedding model answered');
  }
}
