/** Background process behind `npm run local:up`: serves the persistent local knowledge database. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startLocalDatabase } from './db-server.ts';
import { localDbPorts, localDir } from './harness.ts';
import { isEntryScript } from './script.ts';

/** Serves until SIGTERM/SIGINT; exits 1 when it cannot start (a port in use, say). */
async function serve(): Promise<void> {
  const db = await startLocalDatabase({
    dataDir: join(localDir, 'pgdata'),
    ...localDbPorts,
    proxyHost: process.env.HOMEOSTAT_DB_PROXY_BIND ?? '127.0.0.1',
  }).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'EADDRINUSE') {
      console.error(
        `${error.message}: ports ${localDbPorts.pgPort} (Postgres) and ${localDbPorts.proxyPort} (WebSocket proxy) must be free; ` +
          'stop what holds them or choose others with HOMEOSTAT_DB_PORT and HOMEOSTAT_DB_PROXY_PORT',
      );
    } else {
      console.error(error);
    }
    process.exit(1);
  });
  // Written last: its presence tells local:up the database is ready.
  writeFileSync(
    process.env.HOMEOSTAT_DB_STATE ?? join(localDir, 'database.json'),
    JSON.stringify({ url: db.url, wsProxy: db.wsProxy }),
  );
  console.log(`knowledge database ready: ${db.url} (WebSocket proxy ${db.wsProxy})`);

  const shutdown = async () => {
    await db.stop();
    process.exit(0);
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
}

// Not through runScript: this process keeps serving after serve() returns.
if (isEntryScript(import.meta.url)) void serve();
