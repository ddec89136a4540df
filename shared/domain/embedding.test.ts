import { describe, expect, it } from 'vitest';
import {
  CachedEmbedder,
  type Embedder,
  type EmbeddingCache,
  EmbeddingModels,
  embeddingTokens,
  HashingEmbedder,
  offlineEmbeddingModel,
} from './embedding.ts';
import { DependencyUnavailableError } from './errors.ts';
import { embeddingDimensions, InvalidKnowledgeError } from './knowledge.ts';

const cosine = (a: number[], b: number[]) => a.reduce((sum, v, i) => sum + v * (b[i] ?? 0), 0);

describe('HashingEmbedder', () => {
  const embedder = new HashingEmbedder();

  it('makes 1024-d unit vectors, the same for the same text every time', async () => {
    const [a, b] = await embedder.embed([
      'Container killed: OutOfMemoryError',
      'Container killed: OutOfMemoryError',
    ]);
    expect(a).toHaveLength(embeddingDimensions);
    expect(Math.hypot(...(a as number[]))).toBeCloseTo(1, 10);
    expect(a).toEqual(b);
    expect(embedder.model).toBe(offlineEmbeddingModel);
  });

  it('ranks texts sharing the symptom above unrelated ones', () => {
    const query = embedder.embedOne('task exited 137 OutOfMemoryError container killed due to memory usage');
    const oom = embedder.embedOne('Tasks killed for running out of memory: exit code 137, OOM');
    const pull = embedder.embedOne('CannotPullContainerError: manifest unknown for image api:1.5');
    expect(cosine(query, oom)).toBeGreaterThan(cosine(query, pull) + 0.1);
  });

  it('ignores what differs between occurrences: ids, ARNs, addresses, timestamps', () => {
    const a = embedder.embedOne(
      'task 0f1e2d3c4b5a69788796a5b4c3d2e1f0 on arn:aws:ecs:us-east-1:123456789012:task/shop/abc stopped at 2026-11-20T10:00:00Z from 10.0.1.7:8080',
    );
    const b = embedder.embedOne(
      'task 9a8b7c6d5e4f30211203f4e5d6c7b8a9 on arn:aws:ecs:eu-west-1:210987654321:task/shop/xyz stopped at 2026-11-21T11:30:00Z from 10.0.9.9:9090',
    );
    expect(cosine(a, b)).toBeCloseTo(1, 10);
  });

  it('splits camelCase and stems, so "OutOfMemory" meets "memory"', () => {
    expect(embeddingTokens('OutOfMemoryError killed')).toEqual(['out', 'memory', 'error', 'kill']);
  });

  it('refuses empty text and text that was invalid UTF-8', async () => {
    await expect(embedder.embed(['   '])).rejects.toThrow(InvalidKnowledgeError);
    await expect(embedder.embed(['bad \ud800 surrogate'])).rejects.toThrow(/not valid Unicode/);
  });

  it('gives text with no words (only stopwords or punctuation) a direction anyway', () => {
    expect(Math.hypot(...embedder.embedOne('the of ...'))).toBeCloseTo(1, 10);
  });
});

class CountingEmbedder implements Embedder {
  readonly model = 'counting';
  calls: string[][] = [];
  private readonly hashing = new HashingEmbedder();
  async embed(texts: readonly string[]) {
    this.calls.push([...texts]);
    return this.hashing.embed(texts);
  }
}

class MapCache implements EmbeddingCache {
  readonly entries = new Map<string, number[]>();
  async get(model: string, hashes: readonly string[]) {
    const found = new Map<string, number[]>();
    for (const h of hashes) {
      const v = this.entries.get(`${model}/${h}`);
      if (v) found.set(h, v);
    }
    return found;
  }
  async put(model: string, entries: ReadonlyArray<{ contentHash: string; vector: number[] }>) {
    for (const e of entries) this.entries.set(`${model}/${e.contentHash}`, e.vector);
  }
}

describe('CachedEmbedder', () => {
  it('sends each distinct text to the model once, in and across calls', async () => {
    const inner = new CountingEmbedder();
    const cached = new CachedEmbedder(inner, new MapCache());
    const first = await cached.embed(['alpha beta', 'gamma', 'alpha beta']);
    const second = await cached.embed(['gamma', 'delta']);
    expect(inner.calls).toEqual([['alpha beta', 'gamma'], ['delta']]);
    expect(first[0]).toEqual(first[2]);
    expect(second[0]).toEqual(first[1]);
  });

  it('refuses a wrong-dimension vector from the model and caches nothing', async () => {
    const cache = new MapCache();
    const broken: Embedder = { model: 'broken', embed: async (t) => t.map(() => [1, 0, 0]) };
    await expect(new CachedEmbedder(broken, cache).embed(['x'])).rejects.toThrow(
      /3 dimensions; expected 1024/,
    );
    expect(cache.entries.size).toBe(0);
  });
});

describe('EmbeddingModels', () => {
  const down: Embedder = {
    model: 'amazon.titan-embed-text-v2:0',
    embed: async () => {
      throw new DependencyUnavailableError('Bedrock', 'throttled');
    },
  };

  it('stores with the primary and the offline model', () => {
    expect(new EmbeddingModels(down).models).toEqual(['amazon.titan-embed-text-v2:0', offlineEmbeddingModel]);
    expect(new EmbeddingModels(new HashingEmbedder()).models).toEqual([offlineEmbeddingModel]);
  });

  it('falls back to the offline model for queries while the primary is unavailable, and says so', async () => {
    const degraded: unknown[] = [];
    const models = new EmbeddingModels(down, (e) => degraded.push(e));
    const query = await models.embedQuery('exit code 137');
    expect(query.model).toBe(offlineEmbeddingModel);
    expect(degraded).toHaveLength(1);
    expect(await models.tryEmbed(down.model, ['x'])).toBeNull();
  });

  it('does not hide a bad request behind the fallback', async () => {
    const models = new EmbeddingModels({
      model: 'amazon.titan-embed-text-v2:0',
      embed: async () => {
        throw new InvalidKnowledgeError('too long');
      },
    });
    await expect(models.embedQuery('x')).rejects.toThrow('too long');
  });
});
