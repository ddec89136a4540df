/**
 * Bundles every agent with the deploy-time esbuild settings into
 * dist/functions/<agent>/index.mjs (with a metafile for size breakdowns).
 * Used by `npm run build` and `npm run bench`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { runScript } from '../localstack/script.ts';
import {
  type AgentName,
  agentEntry,
  agentNames,
  bundleAliases,
  bundleSettings,
  projectRoot,
} from './bundling.ts';

export interface BuiltAgent {
  agent: AgentName;
  file: string;
  bytes: number;
  /** Bytes in the bundle per npm package (or "(project)"). */
  byPackage: Record<string, number>;
}

export async function buildAgent(agent: AgentName): Promise<BuiltAgent> {
  const outdir = join(projectRoot, 'dist', 'functions', agent);
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
  writeFileSync(join(outdir, 'meta.json'), JSON.stringify(result.metafile));
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
