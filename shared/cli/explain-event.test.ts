import { execFileSync, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ecsMetricAlarmEvent } from '../testing/alarm-events.ts';
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
