import { BedrockRuntimeClient, InvokeModelCommand } from '@aws-sdk/client-bedrock-runtime';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { type Embedder, titanEmbedV2 } from '../domain/embedding.ts';
import { DependencyUnavailableError } from '../domain/errors.ts';
import {
  assertEmbedding,
  cleanText,
  embeddingDimensions,
  InvalidKnowledgeError,
} from '../domain/knowledge.ts';
import { clientDefaults } from './aws-clients.ts';
import { isUnavailable } from './bedrock-errors.ts';

/**
 * A Bedrock Runtime client. `endpoint` points it at a local fake; the fake
 * speaks HTTP/1.1, so a custom endpoint also gets the HTTP/1.1 handler
 * (the client's default is HTTP/2).
 */
export function createBedrockClient(endpoint?: string, maxAttempts?: number): BedrockRuntimeClient {
  return new BedrockRuntimeClient({
    ...clientDefaults,
    ...(maxAttempts ? { maxAttempts } : {}),
    ...(endpoint ? { endpoint, requestHandler: new NodeHttpHandler() } : {}),
  });
}

/**
 * Amazon Titan Text Embeddings V2: 1024 dimensions, normalised, one text per
 * request (a few requests in flight at once). The SDK retries throttling with
 * adaptive backoff; what still fails is DependencyUnavailableError, so callers
 * fall back to the offline model. Access denied counts as unavailable: a model
 * not yet enabled in the account should degrade search, not break the loop.
 */
export class TitanEmbedder implements Embedder {
  constructor(
    private readonly client: BedrockRuntimeClient,
    readonly model: string = titanEmbedV2,
    private readonly concurrency = 4,
  ) {}

  async embed(texts: readonly string[]): Promise<number[][]> {
    const inputs = texts.map((t) => cleanText(t));
    const out = new Array<number[]>(inputs.length);
    let next = 0;
    const worker = async () => {
      while (next < inputs.length) {
        const i = next++;
        out[i] = await this.embedOne(inputs[i] as string);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.concurrency, inputs.length) }, worker));
    return out;
  }

  private async embedOne(inputText: string): Promise<number[]> {
    let response: { body: Uint8Array };
    try {
      response = await this.client.send(
        new InvokeModelCommand({
          modelId: this.model,
          contentType: 'application/json',
          accept: 'application/json',
          body: JSON.stringify({ inputText, dimensions: embeddingDimensions, normalize: true }),
        }),
      );
    } catch (error) {
      if (isUnavailable(error)) {
        throw new DependencyUnavailableError('Bedrock', `${this.model}: ${(error as Error).message}`, {
          cause: error,
        });
      }
      throw new InvalidKnowledgeError(`${this.model} refused the text: ${(error as Error).message}`, {
        cause: error,
      });
    }
    let embedding: unknown;
    try {
      embedding = (JSON.parse(new TextDecoder().decode(response.body)) as { embedding?: unknown }).embedding;
    } catch (error) {
      throw new DependencyUnavailableError('Bedrock', `${this.model} answered with invalid JSON`, {
        cause: error,
      });
    }
    if (!Array.isArray(embedding)) {
      throw new DependencyUnavailableError('Bedrock', `${this.model} answered without an embedding`);
    }
    assertEmbedding(embedding as number[], this.model);
    return embedding as number[];
  }
}
