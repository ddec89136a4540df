#!/usr/bin/env node
// `homeostat`: in the repository, the TypeScript CLI (homeostat.ts) through tsx; from the
// installed package, which ships no .ts sources and no tsx, the compiled CLI in dist/.
import { existsSync } from 'node:fs';

const source = new URL('./homeostat.ts', import.meta.url);
if (existsSync(source)) {
  const { register } = await import('tsx/esm/api');
  register();
  await import(source.href);
} else {
  await import('../../dist/shared/cli/homeostat.js');
}
