import { describe, expect, it } from 'vitest';
import { bundledRunbooksDir, readRunbookDir } from '../adapters/runbook-files.ts';
import { chunkRunbook, maxRunbookChars, parseRunbook } from './runbooks.ts';
import { rootCauses } from './taxonomy.ts';

const doc = `---
id: oom
title: Out of memory
categories: [oom, crash_loop]
actions: [rollback_task_definition, "increase_memory"]
---
# Out of memory

Intro paragraph.

## Symptoms
Exit code 137.

## Safe actions
Roll back.
`;

describe('parseRunbook', () => {
  it('reads the front matter and the body', () => {
    const runbook = parseRunbook(doc, 'oom.md', 'ignored');
    expect(runbook).toMatchObject({
      id: 'oom',
      title: 'Out of memory',
      categories: ['oom', 'crash_loop'],
      actions: ['rollback_task_definition', 'increase_memory'],
      source: 'oom.md',
    });
    expect(runbook.body.startsWith('# Out of memory')).toBe(true);
  });

  it('without front matter: id from the file name, title from the first heading, CRLF accepted', () => {
    const runbook = parseRunbook('# Disk full\r\n\r\nClean /tmp.\r\n', 'ops/disk.md', 'Disk-Full');
    expect(runbook).toMatchObject({ id: 'disk-full', title: 'Disk full', categories: [], actions: [] });
  });

  it.each([
    ['---\ncategories: [melted]\n---\nx', /"melted" is not a root-cause category/],
    ['---\nactions: [delete_cluster]\n---\nx', /"delete_cluster" is not an action in the catalog/],
    ['---\ncategories: oom\n---\nx', /categories must be a list/],
    ['---\nowner: me\n---\nx', /unknown front matter field "owner"/],
    ['---\nid: Has Spaces\n---\nx', /id "Has Spaces" must be/],
    ['---\nid: x\n---\n   \n', /has no content/],
    ['---\n just text\n---\nx', /cannot read front matter line/],
  ])('refuses %j', (text, error) => {
    expect(() => parseRunbook(text, 'bad.md', 'bad')).toThrow(error);
  });

  it('refuses a file too large to be a runbook, naming it', () => {
    expect(() => parseRunbook('x'.repeat(maxRunbookChars + 1), 'huge.md', 'huge')).toThrow(
      /huge.md: .* limited/,
    );
  });
});

describe('chunkRunbook', () => {
  it('one chunk per section, headed by the section heading', () => {
    const chunks = chunkRunbook(parseRunbook(doc, 'oom.md', 'oom'));
    expect(chunks.map((c) => c.heading)).toEqual(['Out of memory', 'Symptoms', 'Safe actions']);
    expect(chunks.map((c) => c.ordinal)).toEqual([0, 1, 2]);
    expect(chunks[1]?.text).toBe('## Symptoms\nExit code 137.');
  });

  it('splits an oversized section at paragraph, sentence and word boundaries, never dropping text', () => {
    const paragraph = (n: number) =>
      Array.from({ length: 30 }, (_, i) => `Sentence ${n}.${i} explains a check in detail`).join('. ');
    const giant = 'w'.repeat(450);
    const body = `# Big\n\n## Checks\n${paragraph(1)}\n\n${paragraph(2)}\n\n${giant}`;
    const runbook = parseRunbook(body, 'big.md', 'big');
    const chunks = chunkRunbook(runbook, 400);
    expect(chunks.length).toBeGreaterThan(6);
    for (const chunk of chunks) expect(chunk.text.length).toBeLessThanOrEqual(400);
    const squash = (s: string) => s.replace(/\s+/g, '');
    expect(squash(chunks.map((c) => c.text).join(''))).toBe(squash(runbook.body));
  });
});

describe('the bundled runbooks', () => {
  it('parse, and cover every root-cause category of the taxonomy', async () => {
    const runbooks = readRunbookDir(bundledRunbooksDir);
    const covered = new Set(runbooks.flatMap((r) => r.categories));
    expect([...covered].sort()).toEqual([...rootCauses].sort());
    for (const runbook of runbooks) {
      expect(runbook.actions.length, runbook.id).toBeGreaterThan(0);
      for (const section of ['Symptoms', 'Checks', 'Safe actions', 'When to escalate']) {
        expect(runbook.body, `${runbook.id}: ${section}`).toContain(`## ${section}`);
      }
    }
  });
});
