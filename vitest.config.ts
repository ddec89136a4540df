import { defineConfig } from 'vitest/config';

const integ = '**/*.integ.test.ts';
const e2e = '**/*.e2e.test.ts';
const ignored = ['**/node_modules/**', '**/cdk.out/**', '**/.local/**', '**/dist/**'];

/**
 * Three tiers, chosen by file name and run in order (groupOrder): unit (no
 * network), integ (in-process against the emulator and PGlite through the Neon
 * driver), e2e (through a cdklocal deployment). The emulator is started once if
 * nothing answers on AWS_ENDPOINT_URL / 127.0.0.1:4566, and stopped afterwards.
 */
export default defineConfig({
  test: {
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['**/*.test.ts'],
          exclude: [...ignored, integ, e2e],
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
          globalSetup: ['localstack/test-setup.ts'],
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
          globalSetup: ['localstack/test-setup.ts'],
          testTimeout: 180_000,
          hookTimeout: 600_000,
          sequence: { groupOrder: 2 },
        },
      },
    ],
  },
});
