/** A local HTTP endpoint standing in for Slack: records every webhook post and Web API call. */
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SlackCall {
  path: string;
  authorization: string | undefined;
  body: Record<string, unknown>;
}

export async function startFakeSlack() {
  const calls: SlackCall[] = [];
  let failWith: number | null = null;
  let ts = 1000;
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
    calls.push({ path: req.url ?? '', authorization: req.headers.authorization, body });
    if (failWith !== null) {
      res.writeHead(failWith).end('unavailable');
      return;
    }
    if (req.url?.startsWith('/api/')) {
      const reply =
        req.url === '/api/chat.update' ? { ok: true, ts: body.ts } : { ok: true, ts: `${++ts}.0001` };
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(reply));
      return;
    }
    res.writeHead(200).end('ok');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    calls,
    webhookUrl: `${base}/services/T000/B000/XXXX`,
    apiUrl: `${base}/api`,
    /** Answer every request with this HTTP status (null: healthy again). */
    failWith(status: number | null) {
      failWith = status;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
