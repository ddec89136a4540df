import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Sha256 } from '@smithy/core/checksum';
import { SignatureV4 } from '@smithy/signature-v4';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FisClient, FisError } from './fis.ts';

interface Seen {
  method: string;
  url: string;
  body: string;
  headers: IncomingMessage['headers'];
}

/**
 * The FIS adapter against a local fake FIS that speaks its REST-JSON wire format (the
 * emulator has no FIS). Each request's SigV4 signature is checked by signing it again.
 */
describe('FIS client', () => {
  const credentials = { accessKeyId: 'AKIDTEST', secretAccessKey: 'secret', sessionToken: 'session' };
  const verifier = new SignatureV4({ service: 'fis', region: 'eu-west-1', credentials, sha256: Sha256 });
  let server: Server;
  let endpoint: string;
  let seen: Seen[];
  let answers: { status: number; body: unknown; type?: string }[];
  let signatureErrors: string[];

  const amzDate = (d: string) =>
    new Date(
      `${d.slice(0, 4)}-${d.slice(4, 6)}-${d.slice(6, 8)}T${d.slice(9, 11)}:${d.slice(11, 13)}:${d.slice(13, 15)}Z`,
    );

  beforeAll(async () => {
    server = createServer(async (req, res) => {
      let body = '';
      for await (const chunk of req) body += chunk;
      seen.push({ method: req.method ?? '', url: req.url ?? '', body, headers: req.headers });
      const auth = String(req.headers.authorization ?? '');
      const signedHeaders = /SignedHeaders=([^,]+)/.exec(auth)?.[1]?.split(';') ?? [];
      const again = await verifier.sign(
        {
          method: req.method ?? '',
          protocol: 'http:',
          hostname: '127.0.0.1',
          port: (server.address() as AddressInfo).port,
          path: req.url ?? '',
          query: {},
          headers: Object.fromEntries(signedHeaders.map((h) => [h, String(req.headers[h])])),
          body: body || undefined,
        },
        { signingDate: amzDate(String(req.headers['x-amz-date'])) },
      );
      if (again.headers.authorization !== auth) signatureErrors.push(`${req.method} ${req.url}`);
      const answer = answers.shift() ?? { status: 500, body: { message: 'no answer queued' } };
      res.statusCode = answer.status;
      res.setHeader('content-type', 'application/json');
      if (answer.type) res.setHeader('x-amzn-errortype', answer.type);
      res.end(JSON.stringify(answer.body));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));
  beforeEach(() => {
    seen = [];
    answers = [];
    signatureErrors = [];
  });

  const client = () => new FisClient({ endpoint, region: 'eu-west-1', credentials, maxAttempts: 3 });
  const experiment = (status: string) => ({
    status: 200,
    body: { experiment: { id: 'EXP1', state: { status } } },
  });

  it('starts an experiment from a template with its client token and tags, signed for fis', async () => {
    answers.push(experiment('initiating'));
    expect(await client().start('EXT1', 'token-1', { 'homeostat:experiment': 'cpu' })).toBe('EXP1');
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ method: 'POST', url: '/experiments' });
    expect(JSON.parse(seen[0]?.body ?? '')).toEqual({
      experimentTemplateId: 'EXT1',
      clientToken: 'token-1',
      tags: { 'homeostat:experiment': 'cpu' },
    });
    expect(seen[0]?.headers.authorization).toMatch(
      /Credential=AKIDTEST\/\d{8}\/eu-west-1\/fis\/aws4_request/,
    );
    expect(seen[0]?.headers['x-amz-security-token']).toBe('session');
    expect(signatureErrors).toEqual([]);
  });

  it('stops a running experiment and leaves a finished one alone', async () => {
    answers.push(experiment('running'), experiment('stopping'));
    expect(await client().stopIfRunning('EXP1')).toBe(true);
    expect(seen.map((s) => `${s.method} ${s.url}`)).toEqual([
      'GET /experiments/EXP1',
      'DELETE /experiments/EXP1',
    ]);
    seen = [];
    answers.push(experiment('completed'));
    expect(await client().stopIfRunning('EXP1')).toBe(false);
    expect(seen.map((s) => `${s.method} ${s.url}`)).toEqual(['GET /experiments/EXP1']);
    expect(signatureErrors).toEqual([]);
  });

  it("retries throttling, and names FIS's own errors without retrying them", async () => {
    answers.push(
      { status: 429, type: 'ThrottlingException', body: { message: 'slow down' } },
      experiment('initiating'),
    );
    expect(await client().start('EXT1', 'token-2', {})).toBe('EXP1');
    expect(seen).toHaveLength(2);

    seen = [];
    answers.push({
      status: 404,
      type: 'ResourceNotFoundException:http://internal.amazon.com/',
      body: { message: 'Experiment template not found' },
    });
    const error = await client()
      .start('EXT-missing', 'token-3', {})
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FisError);
    expect(error).toMatchObject({ name: 'ResourceNotFoundException', status: 404 });
    expect((error as Error).message).toMatch(/Experiment template not found/);
    expect(seen).toHaveLength(1);
  });
});
