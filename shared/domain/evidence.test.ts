import { describe, expect, it } from 'vitest';
import { investigation } from '../testing/investigations.ts';
import {
  type AnyFinding,
  describeDiff,
  diffTaskDefinitions,
  type EvidenceTool,
  investigate,
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

describe('investigate redacts what tools found', () => {
  it('before the evidence reaches Bedrock, the database or Slack', async () => {
    const inv = await investigate(incident, [
      tool('logs', async () => [
        {
          ...logsFinding([
            'Error: connect postgres://app:S3cr3tPass@db:5432/shop',
            'DB_PASSWORD=Xk9mPq2vL7z',
          ]),
          summary: 'latest: Authorization: Bearer mF_9.B5f-4.1JqM',
        },
      ]),
      tool('ecs', async () => [
        {
          kind: 'task_definition_diff',
          summary: 'command changed',
          facts: {
            ...diffTaskDefinitions(
              { arn: 'api:1', image: 'api:1', memory: 512, cpu: 256, command: [], environment: {} },
              {
                arn: 'api:2',
                image: 'api:1',
                memory: 512,
                cpu: 256,
                command: ['node', 'server.js', '--api-key', 'k3y-V4lue-99'],
                environment: {},
              },
            ),
          },
        },
      ]),
      tool('broken', async () => ({ missing: 'failed: token=ghp_A1bC2dE3fH4iJ5kL6mN7oP8qR9sT0uVwXy3z' })),
    ]);
    const text = JSON.stringify(inv);
    for (const secret of ['S3cr3tPass', 'Xk9mPq2vL7z', 'mF_9.B5f-4.1JqM', 'k3y-V4lue-99', 'ghp_A1bC2dE3'])
      expect(text).not.toContain(secret);
    expect(inv.evidence[0]?.summary).toBe('latest: Authorization: Bearer [redacted]');
    expect(inv.evidence[0]?.facts).toEqual({
      logGroup: '/ecs/api',
      lines: ['Error: connect postgres://app:[redacted]@db:5432/shop', 'DB_PASSWORD=[redacted]'],
    });
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
