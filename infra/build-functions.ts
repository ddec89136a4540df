/**
 * Bundles every agent with the deploy-time esbuild settings into its prebuilt
 * asset, dist/assets/<agent>/ (index.mjs, its source map and the agent's
 * bundled folders): what the installed package deploys, and what
 * `npm run bench` measures. The esbuild metafile goes to dist/meta/<agent>.json
 * (size breakdowns), outside the asset.
 */
import { cpSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { runScript } from '../localstack/script.ts';
import {
  type AgentName,
  agentEntry,
  agentNames,
  bundleAliases,
  bundledFolders,
  bundleSettings,
  prebuiltAssetsDir,
  projectRoot,
} from './bundling.ts';

export interface BuiltAgent {
  agent: AgentName;
  /** The bundle, dist/assets/<agent>/index.mjs. */
  file: string;
  /** Size of the bundle (without its source map), bytes. */
  bytes: number;
  /** Bytes in the bundle per npm package (or "(project)"). */
  byPackage: Record<string, number>;
}

/** Builds one agent's prebuilt asset afresh (the folder is emptied first). Throws on an esbuild error. */
export async function buildAgent(agent: AgentName): Promise<BuiltAgent> {
  const outdir = join(prebuiltAssetsDir, agent);
  rmSync(outdir, { recursive: true, force: true });
  mkdirSync(outdir, { recursive: true });
  const file = join(outdir, 'index.mjs');
  const result = await build({
    entryPoints: [agentEntry(agent)],
    outfile: file,
    bundle: true,
    metafile: true,
    logLevel: 'warning',
    format: bundleSettings.format,
    platform: bundleSettings.platform,
    target: bundleSettings.target,
    minify: bundleSettings.minify,
    sourcemap: bundleSettings.sourcemap,
    mainFields: [...bundleSettings.mainFields],
    banner: { js: bundleSettings.banner },
    external: bundleSettings.external,
    alias: bundleAliases,
  });
  for (const { from, to } of bundledFolders[agent] ?? [])
    cpSync(join(projectRoot, from), join(outdir, to), { recursive: true });
  const metaDir = join(projectRoot, 'dist', 'meta');
  mkdirSync(metaDir, { recursive: true });
  writeFileSync(join(metaDir, `${agent}.json`), JSON.stringify(result.metafile));
  const output =
    result.metafile.outputs[Object.keys(result.metafile.outputs).find((k) => k.endsWith('.mjs')) ?? ''];
  const byPackage: Record<string, number> = {};
  for (const [path, input] of Object.entries(output?.inputs ?? {})) {
    const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path)?.[1] ?? '(project)';
    byPackage[pkg] = (byPackage[pkg] ?? 0) + input.bytesInOutput;
  }
  return { agent, file, bytes: output?.bytes ?? 0, byPackage };
}

runScript(import.meta.url, async () => {
  for (const agent of agentNames) {
    const built = await buildAgent(agent);
    console.log(`${agent.padEnd(10)} ${(built.bytes / 1024).toFixed(1).padStart(7)} KB  ${built.file}`);
  }
});
