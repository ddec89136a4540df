/**
 * npm run local:up — the emulator and the local knowledge database, migrated; left running
 * (stop with local:down). What it started is stopped again when it fails or is interrupted.
 */

import { ensureEmulator, ensureLocalDatabase } from './harness.ts';
import { migrateLocal } from './migrate-local.ts';
import { runScript } from './script.ts';

runScript(
  import.meta.url,
  async () => {
    const log = (line: string) => console.log(`• ${line}`);
    const emulator = await ensureEmulator(log);
    log(`AWS emulator ${emulator.started ? 'started' : 'already running'} at ${emulator.endpoint}`);
    const db = await ensureLocalDatabase(log);
    log(`knowledge database at ${db.url} (WebSocket proxy ${db.wsProxy})`);
    const report = await migrateLocal(db);
    log(`migrations: ${report.applied.length} applied, ${report.alreadyApplied.length} already there`);
    log('stop everything with: npm run local:down');
  },
  { keep: 'on-success', describeError: (error) => `local:up failed: ${(error as Error).message}` },
);
