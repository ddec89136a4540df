/**
 * Local knowledge database: PGlite (Postgres in WASM) with pgvector, served over
 * the Postgres wire protocol by pglite-socket, behind a WebSocket→TCP proxy that
 * speaks Neon's protocol — so @neondatabase/serverless runs its production path.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { WebSocketServer } from 'ws';

export interface LocalDatabaseOptions {
  /** Folder to persist data in; in-memory when unset. */
  dataDir?: string;
  /** Postgres wire port on 127.0.0.1; 0 picks a free one. @default 0 */
  pgPort?: number;
  /** WebSocket proxy port; 0 picks a free one. @default 0 */
  proxyPort?: number;
  /**
   * Interface the WebSocket proxy listens on. Lambdas that the emulator runs in
   * containers (LocalStack, MiniStack in Docker) need 0.0.0.0 here.
   * @default '127.0.0.1'
   */
  proxyHost?: string;
}

export interface LocalDatabase {
  /** Connection string for the Neon driver (and psql). */
  url: string;
  /** host:port of the WebSocket proxy, for DATABASE_WS_PROXY. */
  wsProxy: string;
  pgPort: number;
  proxyPort: number;
  stop(): Promise<void>;
}

const host = '127.0.0.1';

export async function startLocalDatabase(options: LocalDatabaseOptions = {}): Promise<LocalDatabase> {
  const db = await PGlite.create({ dataDir: options.dataDir, extensions: { vector } });
  const pgServer = new PGLiteSocketServer({ db, host, port: options.pgPort ?? 0, maxConnections: 64 });
  await pgServer.start();
  const pgPort = Number(pgServer.getServerConn().split(':').pop());
  const proxy = await startWsProxy(options.proxyHost ?? host, options.proxyPort ?? 0, `${host}:${pgPort}`);
  const proxyPort = proxy.port;
  return {
    url: `postgres://postgres:postgres@${host}:${pgPort}/postgres`,
    wsProxy: `${host}:${proxyPort}`,
    pgPort,
    proxyPort,
    async stop() {
      await proxy.close();
      await pgServer.stop();
      await db.close();
    },
  };
}

/**
 * Neon's wsproxy protocol: ws://proxy/v2?address=host:port, then raw TCP bytes
 * as binary frames. Only the local database is reachable: this is not an open proxy.
 */
async function startWsProxy(
  listenHost: string,
  port: number,
  allowedTarget: string,
): Promise<{ port: number; close(): Promise<void> }> {
  const http = createServer((_req, res) => res.writeHead(426).end('WebSocket only'));
  const wss = new WebSocketServer({ server: http });
  wss.on('connection', (ws, req) => {
    const address = new URL(req.url ?? '/', 'http://proxy').searchParams.get('address') ?? '';
    const [targetHost, targetPort] = address.split(':');
    const target = `${targetHost === 'localhost' ? host : targetHost}:${targetPort}`;
    if (target !== allowedTarget) {
      ws.close(1008, `address ${address} not allowed`);
      return;
    }
    const tcp = connect(Number(targetPort), host);
    const pending: Buffer[] = [];
    let connected = false;
    tcp.on('connect', () => {
      connected = true;
      for (const chunk of pending.splice(0)) tcp.write(chunk);
    });
    ws.on('message', (data: Buffer) => (connected ? tcp.write(data) : pending.push(data)));
    tcp.on('data', (data) => ws.send(data));
    tcp.on('error', () => ws.close(1011));
    tcp.on('close', () => ws.close());
    ws.on('close', () => tcp.destroy());
    ws.on('error', () => tcp.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(port, listenHost, () => resolve());
  });
  return {
    port: (http.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of wss.clients) client.terminate();
        wss.close();
        http.closeAllConnections();
        http.close(() => resolve());
      }),
  };
}
