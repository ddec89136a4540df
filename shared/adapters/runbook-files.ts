import { readdirSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InvalidKnowledgeError } from '../domain/knowledge.ts';
import { parseRunbook, type Runbook } from '../domain/runbooks.ts';

/** The runbooks shipped with Homeostat (one per root-cause category). */
export const bundledRunbooksDir = join(dirname(fileURLToPath(import.meta.url)), '..', 'runbooks');

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Reads every `*.md` under `dir` (recursively, in name order). All files are
 * checked before any is returned: one that is not valid UTF-8 or not a valid
 * runbook fails the whole read with every problem listed, so an ingest never
 * half-happens. Synchronous: runbook folders are small, and CDK checks them at synth.
 */
export function readRunbookDir(dir: string, label = dir): Runbook[] {
  let entries: string[];
  try {
    entries = readdirSync(dir, { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.md'))
      .sort();
  } catch (error) {
    throw new InvalidKnowledgeError(`cannot read runbook folder ${dir}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const runbooks: Runbook[] = [];
  const problems: string[] = [];
  for (const file of entries) {
    const source = join(label, file);
    try {
      let text: string;
      try {
        text = utf8.decode(readFileSync(join(dir, file)));
      } catch (error) {
        if (error instanceof TypeError) throw new InvalidKnowledgeError(`${source}: not valid UTF-8`);
        throw error;
      }
      runbooks.push(parseRunbook(text, source, basename(file, '.md')));
    } catch (error) {
      problems.push((error as Error).message);
    }
  }
  if (problems.length > 0) {
    throw new InvalidKnowledgeError(`${problems.length} runbook file(s) rejected: ${problems.join('; ')}`);
  }
  return runbooks;
}
