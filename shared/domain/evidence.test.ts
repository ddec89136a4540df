import { describe, expect, it } from 'vitest';
import { investigation } from '../testing/investigations.ts';
import {
  type AnyFinding,
  describeDiff,
  diffTaskDefinitions,
  type EvidenceTool,
  investigate,
  redact,
} from './evidence.ts';

const { incident } = investigation();

const tool = (name: string, gather: EvidenceTool['gather']): EvidenceTool => ({ name, gather });
const logsFinding = (lines: string[]): AnyFinding => ({
  kind: 'logs',
  summary: `${lines.length} error lines`,
  facts: { logGroup: '/ecs/api', lines },
  untrusted: true,
});

describe('investigate', () => {
  it('numbers findings per kind and keeps going past tools that fail, time out or find nothing', async () => {
    const inv = await investigate(
      incident,
      [
        tool('logs-a', async () => [logsFinding(['a'])]),
        tool('broken', async () => {
          throw new Error('AccessDenied');
        }),
        tool(
          'slow',
          (_incident, signal) =>
            new Promise((resolve) => signal.addEventListener('abort', () => resolve([]))),
        ),
        tool('metrics', async () => ({ missing: 'no datapoints in the window' })),
        tool('logs-b', async () => [logsFinding(['b'])]),
      ],
      50,
    );
    expect(inv.evidence.map((e) => [e.id, e.source, e.untrusted])).toEqual([
      ['logs:1', 'logs-a', true],
      ['logs:2', 'logs-b', true],
    ]);
    expect(inv.gaps).toEqual([
      { tool: 'broken', reason: 'failed: Error: AccessDenied' },
      { tool: 'slow', reason: 'timed out after 50 ms' },
      { tool: 'metrics', reason: 'no datapoints in the window' },
    ]);
  });
});

describe('redact', () => {
  it.each([
    ['password=hunter2 user=app', 'password=[redacted] user=app'],
    [
      'connecting to postgres://app:s3cr3t@db:5432/shop',
      'connecting to postgres://app:[redacted]@db:5432/shop',
    ],
    ['Authorization: Bearer abcdefghijklmnop', 'Authorization: [redacted] [redacted]'],
    ['key AKIAABCDEFGHIJKLMNOP leaked', 'key [redacted-aws-key] leaked'],
    ['"api_key": "sk-live-123456"', '"api_key": "[redacted]"'],
    ['token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NSJ9.c2lnbmF0dXJlc2ln', 'token [redacted-jwt]'],
    ['Error: connect ECONNREFUSED 10.0.3.7:5432', 'Error: connect ECONNREFUSED 10.0.3.7:5432'],
  ])('%s', (line, expected) => {
    expect(redact(line)).toBe(expected);
  });

  it('bounds a line', () => {
    expect(redact('x'.repeat(2_000), 100)).toHaveLength(100);
  });
});

describe('diffTaskDefinitions', () => {
  const base = {
    arn: 'arn:aws:ecs:eu-west-1:1:task-definition/api:1',
    image: 'api:1.4',
    memory: 512,
    cpu: 256,
    command: ['node', 'server.js'],
    environment: { DB_URL: 'postgres://db', LOG_LEVEL: 'info', OLD: '1' },
  };
  it('names what changed, environment by name only', () => {
    const diff = diffTaskDefinitions(base, {
      ...base,
      arn: 'arn:aws:ecs:eu-west-1:1:task-definition/api:2',
      image: 'api:1.5',
      memory: 256,
      environment: { DB_URL: 'postgres://other', LOG_LEVEL: 'info', NEW: 'x' },
    });
    expect(diff).toMatchObject({
      image: { from: 'api:1.4', to: 'api:1.5' },
      memory: { from: 512, to: 256 },
      cpu: null,
      command: null,
      environment: { added: ['NEW'], removed: ['OLD'], changed: ['DB_URL'] },
    });
    expect(JSON.stringify(diff)).not.toContain('postgres://other');
    expect(describeDiff(diff)).toBe(
      'image api:1.4 → api:1.5; memory 512 → 256; env added NEW; env removed OLD; env changed DB_URL',
    );
  });
  it('says when nothing changed', () => {
    expect(describeDiff(diffTaskDefinitions(base, base))).toBe('no change');
  });
});
