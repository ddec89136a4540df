import { describe, expect, it } from 'vitest';
import { fingerprintOf, normalizeReason, symptomKey } from './fingerprint.ts';
import type { Signal } from './signal.ts';

const task = (
  reason: string,
  exitCode: number | null = 137,
): Pick<Signal, 'kind' | 'name' | 'classification' | 'reason' | 'attributes'> => ({
  kind: 'task_stopped',
  name: 'EssentialContainerExited',
  classification: 'fault',
  reason,
  attributes: { exitCode },
});

describe('normalizeReason', () => {
  it.each([
    [
      'ARNs',
      'Task failed ELB health checks in (target-group arn:aws:elasticloadbalancing:us-west-2:1:targetgroup/api/73e2d6bc)',
      'task failed elb health checks in (target-group <arn>)',
    ],
    [
      'UUIDs and task ids',
      'task 1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d stopped; request 9f8e7d6c-1111-2222-3333-444455556666',
      'task <id> stopped; request <id>',
    ],
    [
      'deployment ids',
      'Scaling activity initiated by (deployment ecs-svc/5191542633413839583)',
      'scaling activity initiated by (deployment <deployment>)',
    ],
    ['addresses and ports', 'connect ECONNREFUSED 10.0.1.12:5432', 'connect econnrefused <ip>'],
    [
      'timestamps',
      'failed at 2026-11-20T10:01:02.123Z and (02/10/19 17:03:00)',
      'failed at <time> and <time>',
    ],
    ['numbers', 'retried 5 time(s) after 3.5s', 'retried # time(s) after #s'],
  ])('removes %s', (_name, input, expected) => {
    expect(normalizeReason(input)).toBe(expected);
  });
});

describe('fingerprints', () => {
  const service = { cluster: 'shop', service: 'api' };

  it('are equal for two occurrences of one symptom on different tasks and times', () => {
    const a = symptomKey(
      task('Essential container in task exited | OutOfMemoryError at 2026-11-20T10:01:00Z on 10.0.0.1'),
    );
    const b = symptomKey(
      task('Essential container in task exited | OutOfMemoryError at 2026-11-20T10:07:00Z on 10.0.0.9'),
    );
    expect(fingerprintOf(service, a)).toBe(fingerprintOf(service, b));
  });

  it('differ across services, exit codes and alarm states', () => {
    const key = symptomKey(task('exited'));
    const prints = new Set([
      fingerprintOf(service, key),
      fingerprintOf({ cluster: 'shop', service: 'cart' }, key),
      fingerprintOf(service, symptomKey(task('exited', 1))),
      fingerprintOf(
        service,
        symptomKey({ kind: 'alarm', name: 'api-5xx', classification: 'fault', reason: '', attributes: {} }),
      ),
      fingerprintOf(
        service,
        symptomKey({
          kind: 'alarm',
          name: 'api-5xx',
          classification: 'recovery',
          reason: '',
          attributes: {},
        }),
      ),
    ]);
    expect(prints.size).toBe(5);
  });

  it('ignore alarm datapoints in the reason', () => {
    const alarm = (reason: string) =>
      symptomKey({ kind: 'alarm', name: 'api-cpu', classification: 'fault', reason, attributes: {} });
    expect(alarm('Threshold Crossed: 1 datapoint [97.1]')).toBe(
      alarm('Threshold Crossed: 3 datapoints [99.5, 98.0, 96.2]'),
    );
  });
});
