/**
 * `homeostat knowledge search|stats|ingest`: the knowledge base from a terminal.
 * Output is a human-readable table, or one JSON document with --json.
 */
import type { EmbeddingModels } from '../domain/embedding.ts';
import { HomeostatError } from '../domain/errors.ts';
import type { Runbook } from '../domain/runbooks.ts';
import {
  ingestRunbooks,
  type KnowledgeSearcher,
  type KnowledgeWriter,
  searchKnowledge,
} from '../usecases/knowledge.ts';

export interface KnowledgeCliDeps {
  store: KnowledgeSearcher & KnowledgeWriter & { stats(): Promise<object> };
  embeddings: EmbeddingModels;
  readRunbooks(dir: string): Runbook[];
  /** Progress for long operations (stderr). */
  progress(line: string): void;
}

export interface CliOutput {
  stdout: string;
  stderr: string;
  exitCode: number;
}

export const knowledgeUsage = `  knowledge search "<text>" [--limit N] [--json]
                                     runbook sections (full text + vectors) and other knowledge
  knowledge stats [--json]           what the knowledge base holds
  knowledge ingest <dir> [--json]    add or update your markdown runbooks (idempotent)
`;

const fail = (message: string, exitCode = 2): CliOutput => ({ stdout: '', stderr: `${message}\n`, exitCode });

function option(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

const positional = (args: string[]) =>
  args.filter((a, i) => !a.startsWith('--') && args[i - 1] !== '--limit');

export async function knowledgeCommand(args: string[], deps: KnowledgeCliDeps): Promise<CliOutput> {
  const [sub, ...rest] = args;
  const json = rest.includes('--json');
  try {
    if (sub === 'search') {
      const text = positional(rest).join(' ').trim();
      if (!text)
        return fail('knowledge search needs some text, e.g. homeostat knowledge search "exit code 137"');
      const limitText = option(rest, '--limit') ?? '5';
      const limit = Number(limitText);
      if (!Number.isInteger(limit) || limit < 1 || limit > 50)
        return fail(`--limit must be 1–50, got ${limitText}`);
      const result = await searchKnowledge(text, deps, limit);
      if (json) return { stdout: `${JSON.stringify(result, null, 2)}\n`, stderr: '', exitCode: 0 };
      const lines = [`Runbook sections for "${text}" (full text + ${result.model} vectors, fused):`];
      if (result.runbooks.length === 0) lines.push('  (none)');
      result.runbooks.forEach((hit, i) => {
        const ranks = `text #${hit.textRank ?? '-'}, vector #${hit.vectorRank ?? '-'}`;
        lines.push(`  ${i + 1}. ${hit.node.key.padEnd(24)} ${hit.node.title}  (${ranks})`);
      });
      lines.push('', 'Other knowledge, nearest first:');
      if (result.others.length === 0) lines.push('  (none)');
      result.others.forEach((hit, i) => {
        lines.push(
          `  ${i + 1}. ${`${hit.node.kind}/${hit.node.key}`.padEnd(32)} ${hit.node.title}  (distance ${hit.distance.toFixed(3)})`,
        );
      });
      return { stdout: `${lines.join('\n')}\n`, stderr: '', exitCode: 0 };
    }
    if (sub === 'stats') {
      const stats = await deps.store.stats();
      if (json) return { stdout: `${JSON.stringify(stats, null, 2)}\n`, stderr: '', exitCode: 0 };
      const flat = Object.entries(stats).flatMap(([key, value]) =>
        typeof value === 'object' && value !== null
          ? Object.entries(value).map(([k, v]) => [`${key}: ${k}`, String(v)])
          : [[key, String(value)]],
      );
      const width = Math.max(...flat.map(([k]) => (k as string).length));
      return {
        stdout: `${flat.map(([k, v]) => `${(k as string).padEnd(width)}  ${v}`).join('\n')}\n`,
        stderr: '',
        exitCode: 0,
      };
    }
    if (sub === 'ingest') {
      const [dir] = positional(rest);
      if (!dir) return fail('knowledge ingest needs a folder of markdown runbooks');
      deps.progress(`reading runbooks in ${dir}…`);
      const runbooks = deps.readRunbooks(dir);
      if (runbooks.length === 0) return fail(`no .md runbooks in ${dir}`);
      deps.progress(`embedding and storing ${runbooks.length} runbook(s)…`);
      const report = await ingestRunbooks(runbooks, deps);
      if (json) return { stdout: `${JSON.stringify(report, null, 2)}\n`, stderr: '', exitCode: 0 };
      const embedded = Object.entries(report.embedded)
        .map(([model, n]) => `${n} by ${model}`)
        .join(', ');
      const pending = report.pendingModels.length
        ? `\nnot embedded now (unavailable; run ingest again later): ${report.pendingModels.join(', ')}`
        : '';
      return {
        stdout: `ingested ${report.runbooks} runbook(s) as ${report.chunks} chunk(s); embedded ${embedded}; ${report.pruned} stale chunk(s) removed${pending}\n`,
        stderr: '',
        exitCode: 0,
      };
    }
  } catch (error) {
    // Expected failures (bad input, configuration, an unavailable dependency) are reported, not thrown.
    if (error instanceof HomeostatError) return fail(`${error.name}: ${error.message}`, 1);
    throw error;
  }
  return fail(`unknown knowledge command: ${sub ?? '(none)'}\n\nusage:\n${knowledgeUsage}`);
}
