/** npm run local:install — installs the pinned emulator into .venv-emulator (local:up does this on first use). */
import { ensureEmulatorInstalled } from './harness.ts';

ensureEmulatorInstalled((line) => console.log(`• ${line}`));
console.log('• emulator installed in .venv-emulator (pins: localstack/requirements.txt)');
