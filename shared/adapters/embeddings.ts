import * as z from 'zod/mini';
import {
  CachedEmbedder,
  EmbeddingModels,
  HashingEmbedder,
  offlineEmbeddingModel,
} from '../domain/embedding.ts';
import { ConfigurationError, type DependencyUnavailableError } from '../domain/errors.ts';
import { createBedrockClient, TitanEmbedder } from './bedrock-embedder.ts';
import type { Pool } from './database.ts';
import { PostgresEmbeddingCache } from './knowledge-store.ts';

/** Environment of every process that embeds text. */
export const embeddingEnvFields = {
  /** `homeostat-hash-v1` (offline) or a Titan Text Embeddings V2 model id. */
  HOMEOSTAT_EMBEDDING_MODEL: z._default(z.string().check(z.minLength(1)), offlineEmbeddingModel),
  /** A Bedrock Runtime endpoint other than AWS's (a local fake in tests). */
  BEDROCK_ENDPOINT: z.optional(z.url()),
};

/**
 * The deployment's embedding models: the configured one (Titan through the
 * embedding cache, so no text is embedded twice) and the offline one.
 */
export function createEmbeddingModels(
  pool: Pool,
  settings: { model: string; bedrockEndpoint?: string | undefined },
  onDegraded?: (error: DependencyUnavailableError) => void,
): EmbeddingModels {
  if (settings.model === offlineEmbeddingModel) return new EmbeddingModels(new HashingEmbedder(), onDegraded);
  if (!settings.model.includes('titan-embed-text-v2')) {
    throw new ConfigurationError(
      `embedding model ${settings.model} is not supported: use ${offlineEmbeddingModel} or amazon.titan-embed-text-v2:0`,
    );
  }
  const titan = new TitanEmbedder(createBedrockClient(settings.bedrockEndpoint), settings.model);
  return new EmbeddingModels(new CachedEmbedder(titan, new PostgresEmbeddingCache(pool)), onDegraded);
}
