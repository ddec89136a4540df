/**
 * npm run db:migrate — applies migrations/ to DATABASE_URL (Neon, say), or to the
 * local database started by local:up when DATABASE_URL is unset.
 */
import { readLocalDbState } from './harness.ts';
import { migrateLocal } from './migrate-local.ts';
import { runScript } from './script.ts';

runScript(import.meta.url, async () => {
  const target = process.env.DATABASE_URL
    ? { url: process.env.DATABASE_URL, wsProxy: process.env.DATABASE_WS_PROXY }
    : readLocalDbState();
  if (!target) {
    console.error('No database: set DATABASE_URL, or start the local one with npm run local:up');
    return 2;
  }
  try {
    const report = await migrateLocal(target);
    for (const name of report.applied) console.log(`applied ${name}`);
    console.log(`${report.applied.length} applied, ${report.alreadyApplied.length} already applied`);
    return 0;
  } catch (error) {
    console.error(`migration failed: ${(error as Error).message}`);
    return 1;
  }
});
