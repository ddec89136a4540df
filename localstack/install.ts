/**
 * npm run local:install — installs the pinned emulator into .venv-emulator (local:up does this on
 * first use), the pinned cfn-lint into .venv-cfn-lint (for `npm run lint:cfn`) and Debian's Chromium for the report's browser test (as root, when it is missing; the
 * report test itself does the same on first use).
 */
import { ensureCfnLintInstalled, ensureChromium, ensureEmulatorInstalled } from './harness.ts';
import { runScript } from './script.ts';

runScript(import.meta.url, async () => {
  const log = (line: string) => console.log(`• ${line}`);
  ensureEmulatorInstalled(log);
  log('emulator installed in .venv-emulator (pins: localstack/requirements.txt)');
  ensureCfnLintInstalled(log);
  log('cfn-lint installed in .venv-cfn-lint (pins: infra/cfn-lint-requirements.txt)');
  try {
    log(`chromium present (${ensureChromium({ log })})`);
  } catch (error) {
    // The rest of the project works without it; only the HTML report test needs it.
    log(`chromium missing: ${(error as Error).message}`);
  }
});
