/** npm run local:down — stops exactly the processes local:up started. */
import { stopLocalDatabase, stopRecorded } from './harness.ts';
import { runScript } from './script.ts';

runScript(import.meta.url, async () => {
  const emulator = await stopRecorded('emulator');
  const database = await stopLocalDatabase();
  console.log(`• emulator: ${emulator ? 'stopped' : 'was not started by local:up'}`);
  console.log(`• knowledge database: ${database ? 'stopped' : 'was not running'}`);
});
