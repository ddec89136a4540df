/** npm run local:up — the emulator and the local knowledge database, migrated. */

import { ensureEmulator, ensureLocalDatabase } from './harness.ts';
import { migrateLocal } from './migrate-local.ts';

const log = (line: string) => console.log(`• ${line}`);
const emulator = await ensureEmulator(log);
log(`AWS emulator ${emulator.started ? 'started' : 'already running'} at ${emulator.endpoint}`);
const db = await ensureLocalDatabase(log);
log(`knowledge database at ${db.url} (WebSocket proxy ${db.wsProxy})`);
const report = await migrateLocal(db);
log(`migrations: ${report.applied.length} applied, ${report.alreadyApplied.length} already there`);
log('stop everything with: npm run local:down');
