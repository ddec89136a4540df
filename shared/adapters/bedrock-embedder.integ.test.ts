import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type FakeBedrock, startFakeBedrock } from '../../localstack/fake-bedrock.ts';
import {
  EmbeddingModels,
  HashingEmbedder,
  offlineEmbeddingModel,
  titanEmbedV2,
} from '../domain/embedding.ts';
import { DependencyUnavailableError } from '../domain/errors.ts';
import { InvalidKnowledgeError } from '../domain/knowledge.ts';
import { createBedrockClient, TitanEmbedder } from './bedrock-embedder.ts';

/** The real Bedrock Runtime SDK client against a local fake that speaks the InvokeModel wire format. */
describe('Titan Text Embeddings V2 through the SDK', () => {
  let bedrock: FakeBedrock;
  let titan: TitanEmbedder;

  beforeAll(async () => {
    process.env.AWS_ACCESS_KEY_ID ??= 'test';
    process.env.AWS_SECRET_ACCESS_KEY ??= 'test';
    process.env.AWS_REGION ??= 'us-east-1';
    bedrock = await startFakeBedrock();
    titan = new TitanEmbedder(createBedrockClient(bedrock.endpoint));
  });
  afterAll(async () => bedrock?.stop());
  beforeEach(() => {
    bedrock.requests.length = 0;
    bedrock.script.length = 0;
  });

  it('asks for 1024 normalised dimensions, one request per text, and returns them in order', async () => {
    const vectors = await titan.embed(['exit code 137', 'CannotPullContainerError', 'exit code 137 again']);
    expect(vectors).toHaveLength(3);
    expect(vectors[0]).toEqual(new HashingEmbedder().embedOne('exit code 137'));
    expect(bedrock.requests.map((r) => r.modelId)).toEqual([titanEmbedV2, titanEmbedV2, titanEmbedV2]);
    expect(bedrock.requests[0]?.body).toMatchObject({ dimensions: 1024, normalize: true });
    expect(new Set(bedrock.requests.map((r) => r.body.inputText))).toEqual(
      new Set(['exit code 137', 'CannotPullContainerError', 'exit code 137 again']),
    );
  });

  it('retries throttling and succeeds when Bedrock recovers', async () => {
    bedrock.script.push({ status: 429, error: 'ThrottlingException', message: 'Too many requests' });
    const [vector] = await titan.embed(['retry me']);
    expect(vector).toHaveLength(1024);
    expect(bedrock.requests).toHaveLength(2);
  });

  it('reports persistent service errors as unavailable (so search falls back), bad requests as invalid', async () => {
    for (let i = 0; i < 5; i++) {
      bedrock.script.push({ status: 503, error: 'ServiceUnavailableException', message: 'down' });
    }
    await expect(titan.embed(['x'])).rejects.toThrow(DependencyUnavailableError);
    bedrock.script.push({ status: 400, error: 'ValidationException', message: 'Input is too long' });
    await expect(titan.embed(['y'])).rejects.toThrow(InvalidKnowledgeError);
  });

  it('refuses an answer with the wrong dimension', async () => {
    bedrock.script.push({ status: 200, body: { embedding: [0.5, 0.5], inputTextTokenCount: 1 } });
    await expect(titan.embed(['z'])).rejects.toThrow('has 2 dimensions; expected 1024');
  });

  it('while Bedrock is down, queries are embedded by the offline model', async () => {
    for (let i = 0; i < 5; i++) {
      bedrock.script.push({ status: 500, error: 'InternalServerException', message: 'boom' });
    }
    const models = new EmbeddingModels(titan);
    expect((await models.embedQuery('latency p99')).model).toBe(offlineEmbeddingModel);
  });
});
