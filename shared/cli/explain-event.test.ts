import { execFileSync, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ecsMetricAlarmEvent } from '../testing/alarm-events.ts';
import { compositeAlarmSuppressedEvent, fargateSpotInterruptionEvent } from '../testing/aws-doc-events.ts';
import { taskStoppedEvent } from '../testing/ecs-events.ts';
import { explainEvent } from './explain-event.ts';

describe('explain-event', () => {
  it('explains a fault with its service, fingerprint and signal as JSON', async () => {
    const out = await explainEvent(JSON.stringify(taskStoppedEvent({ cluster: 'shop', service: 'api' })), {
      json: true,
    });
    expect(out.exitCode).toBe(0);
    const parsed = JSON.parse(out.stdout);
    expect(parsed).toMatchObject({ kind: 'fault', cluster: 'shop', service: 'api', watched: null });
    expect(parsed.fingerprint).toMatch(/^[0-9a-f]{20}$/);
    expect(parsed.signal).toMatchObject({ kind: 'task_stopped', attributes: { exitCode: 137 } });
  });

  it.each([
    ['recovery', ecsMetricAlarmEvent({ cluster: 'shop', service: 'api', state: 'OK' })],
    ['benign', taskStoppedEvent({ stopCode: 'UserInitiated', exitCode: 0 })],
  ])('classifies %s', async (kind, event) => {
    expect(JSON.parse((await explainEvent(JSON.stringify(event), { json: true })).stdout).kind).toBe(kind);
  });

  it('reports an event type Homeostat does not handle as ignored, exit 0', async () => {
    const out = await explainEvent(
      JSON.stringify({ source: 'aws.ec2', 'detail-type': 'EC2 Spot Instance Interruption Warning' }),
      {
        json: true,
      },
    );
    expect(out.exitCode).toBe(0);
    expect(JSON.parse(out.stdout)).toMatchObject({
      kind: 'ignored',
      cluster: null,
      service: null,
      fingerprint: null,
    });
  });

  it('says whether the service is watched when it can look', async () => {
    const out = await explainEvent(JSON.stringify(ecsMetricAlarmEvent({ cluster: 'shop', service: 'api' })), {
      json: false,
      isWatched: async (cluster, service) => cluster === 'shop' && service === 'web',
    });
    expect(out.stdout).toMatch(/watched: +no — would be counted and ignored/);
  });

  it('fails with a clear message on a malformed event or non-JSON input', async () => {
    const malformed = await explainEvent(
      JSON.stringify({ source: 'aws.ecs', 'detail-type': 'ECS Task State Change' }),
      { json: true },
    );
    expect(malformed).toMatchObject({ exitCode: 1, stdout: '' });
    expect(malformed.stderr).toMatch(/^invalid event: malformed "ECS Task State Change" event: .*detail/);
    const garbage = await explainEvent('{nope', { json: true });
    expect(garbage.exitCode).toBe(2);
    expect(garbage.stderr).toMatch(/^not JSON/);
  });

  it('reads an AWS documentation example without time and region, and says what was missing', async () => {
    const json = JSON.parse(
      (await explainEvent(JSON.stringify(fargateSpotInterruptionEvent), { json: true })).stdout,
    );
    expect(json).toMatchObject({
      kind: 'benign',
      reason: expect.stringMatching(/Fargate Spot interruption/),
      signal: { kind: 'task_stopped', occurredAt: '2016-12-06T16:41:05.702Z' },
      missing: [
        { field: 'time', value: '2016-12-06T16:41:05.702Z', from: 'detail.createdAt' },
        { field: 'region', value: 'us-east-1', from: 'resources[0]' },
      ],
    });
    const text = await explainEvent(JSON.stringify(fargateSpotInterruptionEvent), { json: false });
    expect(text.exitCode).toBe(0);
    expect(text.stdout).toMatch(/^kind: +benign \(a Fargate Spot interruption/m);
    expect(text.stdout).toMatch(/^missing: +time — read as 2016-12-06T16:41:05.702Z \(detail.createdAt\)$/m);
    expect(text.stdout).toMatch(/^ +region — read as us-east-1 \(resources\[0\]\)$/m);
  });

  it('defaults account, id and version as well, the time to now when the event has none', async () => {
    const { version: _v, id: _i, account: _a, ...snippet } = fargateSpotInterruptionEvent;
    const { createdAt: _c, ...detail } = snippet.detail;
    const out = await explainEvent(JSON.stringify({ ...snippet, detail }), {
      json: true,
      now: () => new Date('2026-11-20T10:00:00Z'),
    });
    expect(out.exitCode).toBe(0);
    const json = JSON.parse(out.stdout);
    expect(json.missing.map((m: { field: string }) => m.field)).toEqual([
      'version',
      'id',
      'account',
      'time',
      'region',
    ]);
    expect(json.missing).toContainEqual({ field: 'account', value: '111122223333', from: 'resources[0]' });
    expect(json.signal.occurredAt).toBe('2026-11-20T10:00:00.000Z');
  });

  it('lists nothing missing for a whole event, and explains a suppressed composite alarm as benign', async () => {
    const json = JSON.parse(
      (await explainEvent(JSON.stringify(compositeAlarmSuppressedEvent), { json: true })).stdout,
    );
    expect(json).toMatchObject({ kind: 'benign', reason: expect.stringMatching(/suppressed/), missing: [] });
    const text = await explainEvent(JSON.stringify(compositeAlarmSuppressedEvent), { json: false });
    expect(text.stdout).not.toMatch(/missing:/);
  });

  it('runs as `npx homeostat explain-event <file>` and from standard input', () => {
    const file = join(tmpdir(), `homeostat-event-${process.pid}.json`);
    writeFileSync(file, JSON.stringify(taskStoppedEvent({ cluster: 'shop', service: 'api' })));
    const bin = join(import.meta.dirname, 'homeostat.mjs');
    const env = { ...process.env, DATABASE_URL: '' };
    expect(
      JSON.parse(execFileSync(process.execPath, [bin, 'explain-event', file, '--json'], { env }).toString()),
    ).toMatchObject({
      kind: 'fault',
    });
    const bad = spawnSync(process.execPath, [bin, 'explain-event', '-'], {
      input: '{"source":"aws.ecs","detail-type":"ECS Task State Change"}',
      env,
    });
    expect(bad.status).toBe(1);
    expect(bad.stderr.toString()).toMatch(/invalid event/);
  });
});
