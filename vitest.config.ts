import { defineConfig } from 'vitest/config';

const integ = '**/*.integ.test.ts';
const e2e = '**/*.e2e.test.ts';
const ignored = ['**/node_modules/**', '**/cdk.out/**', '**/.local/**', '**/dist/**'];

/**
 * Three tiers, chosen by file name and run in order (groupOrder): unit (no
 * network), integ (in-process against the emulator and PGlite through the Neon
 * driver), e2e (through a cdklocal deployment). For integ and e2e the emulator is
 * started once if nothing answers on AWS_ENDPOINT_URL / 127.0.0.1:4566, and stopped
 * afterwards; after every tier the run fails if a harness process or port is left
 * behind (localstack/test-setup.ts).
 */
const globalSetup = ['localstack/test-setup.ts'];

export default defineConfig({
  test: {
    // Stopping the emulator may take several seconds; vitest's default (10 s) would cut it.
    teardownTimeout: 60_000,
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['**/*.test.ts'],
          exclude: [...ignored, integ, e2e],
          globalSetup,
          testTimeout: 60_000, // CDK synth tests run cdk-nag over whole stacks (bundling is skipped: infra/testing.ts)
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: 'integ',
          include: [integ],
          exclude: ignored,
          globalSetup,
          testTimeout: 60_000,
          hookTimeout: 120_000,
          sequence: { groupOrder: 1 },
        },
      },
      {
        extends: true,
        test: {
          name: 'e2e',
          include: [e2e],
          exclude: ignored,
          // Each file deploys a stack with cdklocal: one at a time.
          fileParallelism: false,
          globalSetup,
          testTimeout: 180_000,
          hookTimeout: 600_000,
          sequence: { groupOrder: 2 },
        },
      },
    ],
  },
});
