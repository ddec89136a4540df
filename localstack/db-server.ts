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

/** Connections pglite-socket accepts at once; the next is refused ("Too many connections"). */
export const connectionLimit = 64;

export async function startLocalDatabase(options: LocalDatabaseOptions = {}): Promise<LocalDatabase> {
  const db = await PGlite.create({ dataDir: options.dataDir, extensions: { vector } });
  const pgServer = new PGLiteSocketServer({
    db,
    host,
    port: options.pgPort ?? 0,
    maxConnections: connectionLimit,
  });
  let pgPort: number;
  let proxy: Awaited<ReturnType<typeof startWsProxy>>;
  try {
    await pgServer.start();
    pgPort = Number(pgServer.getServerConn().split(':').pop());
    proxy = await startWsProxy(options.proxyHost ?? host, options.proxyPort ?? 0, `${host}:${pgPort}`);
  } catch (error) {
    // A port in use: close the data cleanly rather than leave it to crash recovery.
    await pgServer.stop().catch(() => {});
    await db.close();
    throw error;
  }
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
 * One client at a time talks to PGlite: a client takes the turn with its first
 * message and hands it back when the server says ReadyForQuery with status
 * idle ('I'), i.e. outside any transaction. pglite-socket multiplexes clients
 * per message, which interleaves one client's Parse/Bind with another's.
 */
class Turns {
  private owner: object | null = null;
  private readonly waiting: { who: object; go: () => void }[] = [];

  acquire(who: object, go: () => void): void {
    if (this.owner === null || this.owner === who) {
      this.owner = who;
      go();
    } else if (!this.waiting.some((w) => w.who === who)) {
      this.waiting.push({ who, go });
    }
  }

  release(who: object): void {
    const index = this.waiting.findIndex((w) => w.who === who);
    if (index >= 0) this.waiting.splice(index, 1);
    if (this.owner !== who) return;
    this.owner = null;
    const next = this.waiting.shift();
    if (next) this.acquire(next.who, next.go);
  }
}

/** Finds ReadyForQuery messages in the server's byte stream and reports their status byte. */
function readyForQueryWatcher(onReady: (status: string) => void) {
  let buffer = Buffer.alloc(0);
  let startup = true;
  return (chunk: Buffer) => {
    buffer = Buffer.concat([buffer, chunk]);
    // The only unframed server byte is the answer to an SSLRequest ('N' / 'S') before startup.
    if (startup && buffer.length > 0 && (buffer[0] === 0x4e || buffer[0] === 0x53) && buffer.length === 1) {
      buffer = Buffer.alloc(0);
      return;
    }
    startup = false;
    while (buffer.length >= 5) {
      const length = buffer.readUInt32BE(1);
      if (buffer.length < 1 + length) break;
      if (buffer[0] === 0x5a) onReady(String.fromCharCode(buffer[5] ?? 0));
      buffer = buffer.subarray(1 + length);
    }
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
  const turns = new Turns();
  wss.on('connection', (ws, req) => {
    const address = new URL(req.url ?? '/', 'http://proxy').searchParams.get('address') ?? '';
    const [targetHost, targetPort] = address.split(':');
    const target = `${targetHost === 'localhost' ? host : targetHost}:${targetPort}`;
    if (target !== allowedTarget) {
      ws.close(1008, `address ${address} not allowed`);
      return;
    }
    const tcp = connect(Number(targetPort), host);
    // Small request/response messages: Nagle's algorithm would hold each one back.
    tcp.setNoDelay(true);
    const pending: Buffer[] = [];
    let connected = false;
    let holding = false;
    const flush = () => {
      holding = true;
      if (!connected) return;
      for (const chunk of pending.splice(0)) {
        tcp.write(chunk);
        // Terminate ('X') gets no answer: the client is leaving, so is its turn. Postgres (and
        // Neon) then close the connection, and the driver waits for that close before it closes
        // its WebSocket; pglite-socket keeps the socket open, so every pooled client the driver
        // ended stayed connected until the server ran out of connections. Close it here.
        if (chunk[0] === 0x58 && chunk.length === 5) {
          holding = false;
          turns.release(ws);
          tcp.end();
        }
      }
    };
    tcp.on('connect', () => {
      connected = true;
      if (holding) flush();
    });
    ws.on('message', (data: Buffer) => {
      pending.push(data);
      turns.acquire(ws, flush);
    });
    const watch = readyForQueryWatcher((status) => {
      if (status !== 'I') return;
      holding = false;
      turns.release(ws);
      // Messages that arrived while this client waited for its own answer go out on its next turn.
      if (pending.length > 0) turns.acquire(ws, flush);
    });
    tcp.on('data', (data) => {
      watch(data);
      ws.send(data);
    });
    const done = () => {
      turns.release(ws);
      tcp.destroy();
    };
    tcp.on('error', () => ws.close(1011));
    tcp.on('close', () => {
      turns.release(ws);
      ws.close();
    });
    ws.on('close', done);
    ws.on('error', done);
  });
  await new Promise<void>((resolve, reject) => {
    // ws re-emits the server's errors on itself: without a listener there a port in use crashes the process.
    wss.on('error', reject);
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
