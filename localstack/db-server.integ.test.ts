import { Client } from '@neondatabase/serverless';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool } from '../shared/adapters/database.ts';
import { connectionLimit, type LocalDatabase, startLocalDatabase } from './db-server.ts';

/**
 * The local database as the agents use it: the Neon driver through the
 * WebSocket proxy. Warm Lambda workers open and end pooled clients all day, so
 * an ended client must give its connection back.
 */
describe('local knowledge database', () => {
  let db: LocalDatabase;

  beforeAll(async () => {
    db = await startLocalDatabase();
    // Route the driver through this proxy (createPool sets the process-wide Neon settings).
    await createPool({ url: db.url, wsProxy: db.wsProxy }).end();
  });

  afterAll(async () => {
    await db.stop();
  });

  it('closes a connection when the driver ends it, so more clients than its limit come and go', async () => {
    for (let i = 0; i < connectionLimit + 6; i++) {
      const client = new Client(db.url);
      await client.connect();
      expect((await client.query('SELECT $1::int AS n', [i])).rows[0]).toEqual({ n: i });
      await client.end();
    }
  }, 20_000);
});
