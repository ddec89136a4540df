import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, type Pool } from '../shared/adapters/database.ts';
import { connectionLimit, type LocalDatabase, startLocalDatabase } from './db-server.ts';

/**
 * The local database as the agents use it: the Neon driver through the
 * WebSocket proxy. Warm Lambda workers end pooled clients all day (idle
 * timeout), so an ended client must give its server connection back.
 */
describe('local knowledge database', () => {
  let db: LocalDatabase;
  let pool: Pool;

  beforeAll(async () => {
    db = await startLocalDatabase();
    pool = createPool({ url: db.url, wsProxy: db.wsProxy, maxConnections: 1 });
  });

  afterAll(async () => {
    await pool.end();
    await db.stop();
  });

  it('closes a connection when the driver ends it, so more clients than its limit come and go', async () => {
    for (let i = 0; i < connectionLimit + 6; i++) {
      const client = await pool.connect();
      expect((await client.query('SELECT $1::int AS n', [i])).rows[0]).toEqual({ n: i });
      // Ends the client, as the pool's idle timeout does.
      client.release(true);
    }
  });

  it('reports a port in use as an error, whichever of its two ports it is, and can start again after', async () => {
    const held = await new Promise<Server>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => resolve(server));
    });
    const port = (held.address() as { port: number }).port;
    try {
      await expect(startLocalDatabase({ pgPort: port })).rejects.toMatchObject({ code: 'EADDRINUSE' });
      // The proxy's WebSocket server re-emits the error: unheard, it would crash the process instead.
      await expect(startLocalDatabase({ proxyPort: port })).rejects.toMatchObject({ code: 'EADDRINUSE' });
    } finally {
      await new Promise((resolve) => held.close(resolve));
    }
    const again = await startLocalDatabase({ proxyPort: port });
    await again.stop();
  });
});
