/**
 * A local fake of Bedrock Runtime speaking the real wire format over HTTP/1.1,
 * for contract tests of the SDK client (the emulator's Bedrock mock covers
 * neither embeddings nor Converse tool use). InvokeModel on Titan Text
 * Embeddings V2 answers with the offline embedder's vector; Converse answers
 * from the script (a model that says nothing useful when the script is
 * empty); scripted failures exercise the error paths.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HashingEmbedder } from '../shared/domain/embedding.ts';

export interface FakeBedrockRequest {
  path: string;
  modelId: string;
  body: Record<string, unknown>;
}

/** What the next requests get instead of a normal answer, consumed in order. */
export type ScriptedReply =
  | { status: number; error: string; message: string }
  | { status: 200; body: unknown };

export interface FakeBedrock {
  endpoint: string;
  requests: FakeBedrockRequest[];
  script: ScriptedReply[];
  stop(): Promise<void>;
}

const readBody = async (req: IncomingMessage) => {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
};

export async function startFakeBedrock(): Promise<FakeBedrock> {
  const embedder = new HashingEmbedder();
  const requests: FakeBedrockRequest[] = [];
  const script: ScriptedReply[] = [];
  const send = (res: ServerResponse, status: number, body: unknown, error?: string) => {
    res.writeHead(status, {
      'content-type': 'application/json',
      ...(error
        ? { 'x-amzn-errortype': `${error}:http://internal.amazon.com/coral/com.amazon.bedrock/` }
        : {}),
    });
    res.end(JSON.stringify(body));
  };
  const server = createServer(async (req, res) => {
    const text = await readBody(req);
    const match = /^\/model\/([^/]+)\/(invoke|converse)$/.exec(req.url ?? '');
    const body = (text ? JSON.parse(text) : {}) as Record<string, unknown>;
    requests.push({ path: req.url ?? '', modelId: decodeURIComponent(match?.[1] ?? ''), body });
    const scripted = script.shift();
    if (scripted) {
      if ('error' in scripted)
        return send(res, scripted.status, { message: scripted.message }, scripted.error);
      return send(res, 200, scripted.body);
    }
    if (!match) return send(res, 404, { message: `no route ${req.url}` }, 'UnknownOperationException');
    if (match[2] === 'converse')
      return send(res, 200, converseReply([{ text: 'I am not sure.' }], 'end_turn'));
    const inputText = body.inputText;
    if (typeof inputText !== 'string' || inputText === '') {
      return send(res, 400, { message: 'inputText is required' }, 'ValidationException');
    }
    send(res, 200, {
      embedding: embedder.embedOne(inputText),
      inputTextTokenCount: inputText.split(/\s+/).length,
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    requests,
    script,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A Converse response body as Bedrock sends it. */
export function converseReply(
  content: unknown[],
  stopReason: 'end_turn' | 'tool_use' | 'max_tokens' = 'tool_use',
  usage = { inputTokens: 1_200, outputTokens: 150 },
) {
  return {
    output: { message: { role: 'assistant', content } },
    stopReason,
    usage: { ...usage, totalTokens: usage.inputTokens + usage.outputTokens },
    metrics: { latencyMs: 5 },
  };
}

/** A Converse turn in which the model calls one tool. */
export const toolUse = (
  name: string,
  input: unknown,
  id = `tool-${name}-${Math.random().toString(36).slice(2, 8)}`,
) => ({ status: 200, body: converseReply([{ toolUse: { toolUseId: id, name, input } }]) }) as const;
