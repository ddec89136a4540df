/**
 * One set of esbuild settings for every agent: used by AgentFunction at synth
 * and by `npm run build` / `npm run bench`, so the measured bundle is the deployed one.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository's root; `dist/` when this module runs compiled from the package (dist/infra/bundling.js). */
export const projectRoot = join(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * True when this module runs compiled from the installed package: the agents'
 * sources are not there, so every agent deploys its prebuilt asset. From the
 * repository's sources (tsx, vitest) agents are bundled afresh at synth.
 */
export const runsFromPackage = import.meta.url.endsWith('.js');

/**
 * The prebuilt agent bundles, one folder per agent (`<agent>/index.mjs`, its
 * source map and bundled files): `npm run build` writes them to dist/assets/,
 * where the package's compiled modules (dist/infra/) find them.
 */
export const prebuiltAssetsDir = runsFromPackage
  ? join(projectRoot, 'assets')
  : join(projectRoot, 'dist', 'assets');

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

/** A folder copied next to an agent's bundle: `from` relative to the project root (or absolute), `to` inside the bundle. */
export interface BundledFolder {
  readonly from: string;
  readonly to: string;
}

/**
 * Folders of this repository an agent reads next to its bundle: in its
 * prebuilt asset (`npm run build`) and in the bundle made at synth.
 */
export const bundledFolders: Partial<Record<AgentName, readonly BundledFolder[]>> = {
  migrator: [
    { from: 'migrations', to: 'migrations' },
    { from: join('shared', 'runbooks'), to: 'runbooks' },
  ],
};

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
