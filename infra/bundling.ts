/**
 * One set of esbuild settings for every agent: used by AgentFunction at synth
 * and by `npm run build` / `npm run bench`, so the measured bundle is the deployed one.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const projectRoot = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Agents, by folder under functions/. */
export const agentNames = [
  'perceive',
  'diagnose',
  'plan',
  'act',
  'verify',
  'approve',
  'learn',
  'notify',
  'chaos',
  'migrator',
  'mcp',
  'registry',
] as const;
export type AgentName = (typeof agentNames)[number];

export const agentEntry = (name: AgentName) => join(projectRoot, 'functions', name, 'handler.ts');

/** ESM needs a real `require` for the few CommonJS dependencies that call it. */
export const esmRequireBanner =
  "import { createRequire as __homeostatCreateRequire } from 'node:module'; const require = __homeostatCreateRequire(import.meta.url);";

/**
 * Lambda always receives credentials in environment variables; swapping the
 * default provider chain for the environment provider drops ~90 KB per bundle.
 */
export const bundleAliases = {
  '@aws-sdk/credential-provider-node': join(projectRoot, 'shared', 'adapters', 'lambda-credentials.ts'),
};

export const bundleSettings = {
  format: 'esm',
  platform: 'node',
  target: 'node22',
  minify: true,
  sourcemap: true,
  mainFields: ['module', 'main'],
  banner: esmRequireBanner,
  /** Every SDK client is bundled: the emulator lacks some, and AWS recommends it for cold start. */
  external: [] as string[],
} as const;
