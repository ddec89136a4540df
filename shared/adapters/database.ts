import { neonConfig, Pool, type PoolClient } from '@neondatabase/serverless';
import { DependencyUnavailableError } from '../domain/errors.ts';
import { type RetryOptions, withRetry } from '../domain/retry.ts';

export interface DatabaseSettings {
  /** postgres:// connection string (Neon in AWS; local PGlite through the proxy). */
  url: string;
  /**
   * host:port of a WebSocket→TCP proxy. Unset for Neon, which terminates
   * WebSockets itself; set locally so the driver runs its production code path.
   */
  wsProxy?: string | undefined;
  /** @default 3 */
  maxConnections?: number;
}

export type { Pool, PoolClient };

/**
 * A Neon serverless Pool (Postgres over WebSocket). Settings apply to the whole
 * process, which holds one knowledge database.
 */
export function createPool(settings: DatabaseSettings): Pool {
  neonConfig.webSocketConstructor ??= globalThis.WebSocket;
  if (!neonConfig.webSocketConstructor) {
    throw new DependencyUnavailableError(
      'Postgres',
      'no WebSocket implementation: run on Node.js 22 or newer',
    );
  }
  if (settings.wsProxy) {
    const proxy = settings.wsProxy;
    neonConfig.wsProxy = (host, port) => `${proxy}/v2?address=${host}:${port}`;
    neonConfig.useSecureWebSocket = false;
    // Pipelined connect crashes against SCRAM and hangs against pglite-socket.
    neonConfig.pipelineConnect = false;
    // Write coalescing flushes on a timer (≥ 1 ms in Node): it saves packets over the internet
    // to Neon, but on a loopback proxy the timer is 80% of every query's latency.
    neonConfig.coalesceWrites = false;
  }
  const pool = new Pool({
    connectionString: settings.url,
    max: settings.maxConnections ?? 3,
    connectionTimeoutMillis: 5_000,
    // A Lambda sandbox may freeze for minutes; do not keep sockets the server will drop.
    idleTimeoutMillis: 10_000,
  });
  // An idle client that dies must not crash the process; the next query reconnects.
  pool.on('error', () => {});
  retryDeadConnections(pool);
  return pool;
}

/**
 * A single statement run on the pool (not inside a transaction) is run again
 * when its connection turns out dead — typically an idle pooled connection the
 * server or a proxy closed while the Lambda sandbox waited. Statements the
 * stores run this way are reads or idempotent writes (`ON CONFLICT`, guarded
 * updates); transactions retry as a whole in `withTransaction`.
 */
function retryDeadConnections(pool: Pool) {
  const query = pool.query.bind(pool) as (...args: unknown[]) => Promise<unknown>;
  (pool as unknown as { query: unknown }).query = (...args: unknown[]) =>
    typeof args.at(-1) === 'function'
      ? query(...args)
      : withRetry(() => query(...args), {
          attempts: 4,
          baseDelayMs: 50,
          retryable: isTransientDatabaseError,
        });
}

const retryableSqlStates = new Set(['40001', '40P01', '53300', '57P01', '57P02', '57P03']);

/**
 * The WebSocket transport rejects with an ErrorEvent, not an Error, when it
 * cannot connect; turn that into an Error so it is classified and logged.
 */
function asError(value: unknown): unknown {
  if (value instanceof Error || typeof value !== 'object' || value === null) return value;
  const event = value as { type?: unknown; message?: unknown; error?: unknown };
  if (event.type !== 'error') return value;
  const cause = event.error instanceof Error ? event.error.message : '';
  const message = typeof event.message === 'string' && event.message ? event.message : cause;
  return Object.assign(
    new Error(`WebSocket connection failed${message ? `: ${message}` : ''}`, { cause: value }),
    {
      code: 'ECONNREFUSED',
    },
  );
}

/** Connection-level failures and transient server states are worth retrying; SQL errors are not. */
export function isTransientDatabaseError(value: unknown): boolean {
  const error = asError(value);
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (code.startsWith('08') || retryableSqlStates.has(code)) return true;
    if (['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN'].includes(code))
      return true;
    if (/^[0-9A-Z]{5}$/.test(code)) return false;
  }
  return /connection|terminated|timeout|websocket|socket|ECONNREFUSED/i.test(error.message);
}

/**
 * Runs `work` inside one transaction on one pooled connection, retrying the
 * whole transaction on transient failures. Either everything commits or nothing.
 */
export async function withTransaction<T>(
  pool: Pool,
  work: (client: PoolClient) => Promise<T>,
  retry: RetryOptions = {},
): Promise<T> {
  try {
    return await withRetry(
      async () => {
        const client = await pool.connect();
        let broken = false;
        try {
          await client.query('BEGIN');
          const result = await work(client);
          await client.query('COMMIT');
          return result;
        } catch (error) {
          broken = isTransientDatabaseError(error);
          if (!broken) await client.query('ROLLBACK').catch(() => {});
          throw asError(error);
        } finally {
          client.release(broken);
        }
      },
      { retryable: isTransientDatabaseError, ...retry },
    );
  } catch (value) {
    const error = asError(value);
    if (isTransientDatabaseError(error)) {
      throw new DependencyUnavailableError('Postgres', (error as Error).message, { cause: error });
    }
    throw error;
  }
}
