/** npm run local:deploy — deploys the CDK app into the running emulator, wired to the local database. */
import { deployLocal } from './deploy-local.ts';
import { ensureEmulator, ensureLocalDatabase } from './harness.ts';
import { runScript } from './script.ts';

runScript(
  import.meta.url,
  async () => {
    const log = (line: string) => console.log(`• ${line}`);
    const { endpoint } = await ensureEmulator(log);
    const database = await ensureLocalDatabase(log);
    const started = Date.now();
    await deployLocal({ endpoint, database, log });
    log(`deployed stack Homeostat to ${endpoint} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  },
  { keep: 'on-success' },
);
