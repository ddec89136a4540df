/**
 * npm run local:install — installs the pinned emulator into .venv-emulator (local:up does this on
 * first use), the pinned cfn-lint into .venv-cfn-lint (for `npm run lint:cfn`) and Debian's Chromium for the report's browser test (as root, when it is missing).
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chromiumPath, ensureCfnLintInstalled, ensureEmulatorInstalled } from './harness.ts';

ensureEmulatorInstalled((line) => console.log(`• ${line}`));
console.log('• emulator installed in .venv-emulator (pins: localstack/requirements.txt)');
ensureCfnLintInstalled((line) => console.log(`• ${line}`));
console.log('• cfn-lint installed in .venv-cfn-lint (pins: infra/cfn-lint-requirements.txt)');

if (existsSync(chromiumPath)) {
  console.log(`• chromium present (${chromiumPath})`);
} else if (process.getuid?.() === 0) {
  console.log('• installing Debian chromium (the HTML report is tested in a headless browser)…');
  const apt = (...args: string[]) =>
    execFileSync('apt-get', args, {
      stdio: 'inherit',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  try {
    apt('install', '-y', '-q', '--no-install-recommends', 'chromium');
  } catch {
    apt('update', '-q'); // a fresh machine may have no package lists yet
    apt('install', '-y', '-q', '--no-install-recommends', 'chromium');
  }
} else {
  console.log(`• chromium missing: install it (sudo apt-get install chromium) or set HOMEOSTAT_CHROMIUM`);
}
