/**
 * Runbooks are markdown with an optional front matter block:
 *
 *   ---
 *   id: oom
 *   title: Tasks killed for running out of memory
 *   categories: [oom]
 *   actions: [rollback_task_definition, increase_memory]
 *   ---
 *
 * They are split into chunks by heading (long sections by paragraph, then by
 * sentence) so each chunk can be embedded; no text is ever dropped.
 */
import { InvalidKnowledgeError } from './knowledge.ts';
import { type CatalogAction, isCatalogAction, isRootCause, type RootCause } from './taxonomy.ts';

export interface Runbook {
  id: string;
  title: string;
  categories: RootCause[];
  /** Catalog actions the runbook recommends, in its order of preference. */
  actions: CatalogAction[];
  body: string;
  /** Where it came from (a file path), for messages and provenance. */
  source: string;
}

export interface RunbookChunk {
  ordinal: number;
  heading: string;
  text: string;
}

/** A chunk stays under this many characters (Titan V2 accepts far more; smaller chunks retrieve better). */
export const maxChunkChars = 1_500;
/** Larger files are refused as a likely mistake (a log file in the runbook folder, say). */
export const maxRunbookChars = 1_000_000;

const idPattern = /^[a-z0-9][a-z0-9._-]{0,99}$/;

function parseList(value: string, field: string, source: string): string[] {
  const inner = /^\[(.*)\]$/.exec(value.trim());
  if (!inner) throw new InvalidKnowledgeError(`${source}: ${field} must be a list like [a, b]`);
  return (inner[1] ?? '')
    .split(',')
    .map((s) => s.trim().replace(/^["']|["']$/g, ''))
    .filter(Boolean);
}

/** Parses one runbook; `fallbackId` (the file name) is used when the front matter has no id. */
export function parseRunbook(text: string, source: string, fallbackId: string): Runbook {
  if (text.length > maxRunbookChars) {
    throw new InvalidKnowledgeError(
      `${source}: ${text.length} characters; runbooks are limited to ${maxRunbookChars}`,
    );
  }
  const normalized = text.replace(/\r\n?/g, '\n');
  const front = /^---\n([\s\S]*?)\n---\n?/.exec(normalized);
  const fields = new Map<string, string>();
  for (const line of front?.[1]?.split('\n') ?? []) {
    if (line.trim() === '' || line.trimStart().startsWith('#')) continue;
    const match = /^([a-zA-Z]+):\s*(.*)$/.exec(line);
    if (!match) throw new InvalidKnowledgeError(`${source}: cannot read front matter line "${line}"`);
    fields.set(match[1] as string, (match[2] as string).trim());
  }
  const known = new Set(['id', 'title', 'categories', 'actions']);
  for (const key of fields.keys()) {
    if (!known.has(key)) throw new InvalidKnowledgeError(`${source}: unknown front matter field "${key}"`);
  }
  const body = normalized.slice(front?.[0].length ?? 0).trim();
  if (body === '') throw new InvalidKnowledgeError(`${source}: the runbook has no content`);

  const id = fields.get('id') ?? fallbackId.toLowerCase();
  if (!idPattern.test(id)) {
    throw new InvalidKnowledgeError(`${source}: id "${id}" must be lowercase letters, digits, . _ or -`);
  }
  const categories = parseList(fields.get('categories') ?? '[]', 'categories', source);
  const badCategory = categories.find((c) => !isRootCause(c));
  if (badCategory)
    throw new InvalidKnowledgeError(`${source}: "${badCategory}" is not a root-cause category`);
  const actions = parseList(fields.get('actions') ?? '[]', 'actions', source);
  const badAction = actions.find((a) => !isCatalogAction(a));
  if (badAction) throw new InvalidKnowledgeError(`${source}: "${badAction}" is not an action in the catalog`);
  const title = fields.get('title') || /^#\s+(.+)$/m.exec(body)?.[1]?.trim() || id;
  return {
    id,
    title,
    categories: categories as RootCause[],
    actions: actions as CatalogAction[],
    body,
    source,
  };
}

/** Splits `text` into pieces of at most `limit` characters at the best boundary available. */
function splitLong(text: string, limit: number): string[] {
  if (text.length <= limit) return [text];
  // Each boundary stays with the piece before it, so joining the pieces gives back the text.
  for (const boundary of [/(?<=\n\n)/, /(?<=\n)/, /(?<=[.!?] )/, /(?<= )/]) {
    const parts = text.split(boundary);
    if (parts.length < 2) continue;
    const pieces: string[] = [];
    let current = '';
    for (const part of parts) {
      if (current !== '' && current.length + part.length > limit) {
        pieces.push(current);
        current = '';
      }
      current += part;
    }
    pieces.push(current);
    return pieces
      .map((p) => p.trim())
      .filter(Boolean)
      .flatMap((p) => splitLong(p, limit));
  }
  // One unbroken run of characters: cut it.
  const pieces: string[] = [];
  for (let i = 0; i < text.length; i += limit) pieces.push(text.slice(i, i + limit));
  return pieces;
}

/** Chunks by heading; every non-blank character of the body lands in exactly one chunk. */
export function chunkRunbook(runbook: Runbook, limit = maxChunkChars): RunbookChunk[] {
  const sections: Array<{ heading: string; text: string }> = [];
  let heading = runbook.title;
  let lines: string[] = [];
  const flush = () => {
    const text = lines.join('\n').trim();
    if (text) sections.push({ heading, text });
    lines = [];
  };
  for (const line of runbook.body.split('\n')) {
    const match = /^#{1,6}\s+(.+)$/.exec(line);
    if (match) {
      flush();
      heading = (match[1] as string).trim();
    }
    lines.push(line);
  }
  flush();
  let ordinal = 0;
  return sections.flatMap((section) =>
    splitLong(section.text, limit).map((text) => ({ ordinal: ordinal++, heading: section.heading, text })),
  );
}
