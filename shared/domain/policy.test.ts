import { describe, expect, it } from 'vitest';
import { policyContext, serviceState } from '../testing/remediation.ts';
import { type ActionParameters, actionCatalog } from './actions.ts';
import {
  type Autonomy,
  activeFreeze,
  autonomyLevels,
  defaultPolicySettings,
  evaluate,
  type PolicyContext,
} from './policy.ts';
import { type CatalogAction, catalogActions } from './taxonomy.ts';

const service = serviceState({
  fallback: { parameterName: '/shop/api/payments-mode', value: 'fallback' },
  maintenanceTasks: ['api-migrate:3'],
  secrets: ['shop/api/db'],
});

/** Valid parameters for every action on `service`. */
const valid: Record<CatalogAction, ActionParameters> = {
  restart_service: {},
  scale_out: { desiredCount: 6 },
  scale_in: { desiredCount: 3 },
  rollback_task_definition: { taskDefinition: 'api:6' },
  stop_task: { taskArn: 'arn:aws:ecs:us-east-1:1:task/shop/abc' },
  switch_to_fallback: { parameterName: '/shop/api/payments-mode', value: 'fallback' },
  rotate_secret_and_redeploy: { secretId: 'shop/api/db' },
  run_task: { taskDefinition: 'api-migrate:3' },
  increase_memory: { memoryMiB: 768 },
  escalate: {},
  none: {},
};

const now = new Date('2026-11-18T14:00:00Z'); // a Wednesday

const context = (overrides: Partial<PolicyContext> = {}) => policyContext({ now, service, ...overrides });

const mutating = catalogActions.filter((a) => actionCatalog.get(a)?.mutates);
const alwaysApprove = new Set(mutating.filter((a) => actionCatalog.get(a)?.alwaysApprove));

describe('policy: every mutating action × autonomy level × kill switch', () => {
  const rows = mutating.flatMap((action) =>
    autonomyLevels.flatMap((level) => [false, true].map((killSwitch) => ({ action, level, killSwitch }))),
  );

  it.each(rows)('$action at $level, kill switch $killSwitch', ({ action, level, killSwitch }) => {
    const decision = evaluate(
      action,
      valid[action],
      context({ killSwitch, autonomy: { default: level as Autonomy, perAction: {} } }),
    );
    if (killSwitch) {
      expect(decision).toMatchObject({ verdict: 'deny', retryable: false });
      expect(decision.verdict === 'deny' && decision.reasons).toContain('the kill switch is engaged');
      return;
    }
    const expected =
      level === 'observe'
        ? { verdict: 'allow', mode: 'observe' }
        : level === 'approve' || alwaysApprove.has(action)
          ? { verdict: 'approve' }
          : { verdict: 'allow', mode: 'auto' };
    expect(decision).toMatchObject(expected);
  });

  it.each(['none', 'escalate'] as const)(
    '%s is always allowed, kill switch or not: it touches nothing',
    (action) => {
      for (const level of autonomyLevels)
        expect(
          evaluate(action, {}, context({ killSwitch: true, autonomy: { default: level, perAction: {} } })),
        ).toEqual({ verdict: 'allow', mode: 'auto', autonomy: 'auto', notes: [] });
    },
  );

  it('irreversible and open-ended actions always need approval, even at auto', () => {
    expect([...alwaysApprove].sort()).toEqual(['increase_memory', 'rotate_secret_and_redeploy', 'run_task']);
    expect(actionCatalog.get('rotate_secret_and_redeploy')?.reversible).toBe(false);
  });
});

describe('policy guards', () => {
  it.each([
    [
      'an action outside the catalog',
      'scale_to_zero',
      {},
      context(),
      /not in the action catalog/,
      false,
      true,
    ],
    [
      'an action the registry does not allow',
      'scale_in',
      valid.scale_in,
      context({ allowedActions: ['restart_service'] }),
      /scale_in is not allowed for shop\/api/,
      false,
      false,
    ],
    [
      'scaling out past the registered maximum',
      'scale_out',
      { desiredCount: 9 },
      context(),
      /above the registered maximum 8/,
      false,
      false,
    ],
    [
      'scaling in below the registered minimum',
      'scale_in',
      { desiredCount: 1 },
      context(),
      /below the registered minimum 2/,
      false,
      false,
    ],
    [
      'a rollback to a revision that is not the known-good one',
      'rollback_task_definition',
      { taskDefinition: 'api:3' },
      context(),
      /not the last known-good revision api:6/,
      false,
      false,
    ],
    [
      'unknown parameters',
      'restart_service',
      { desiredCount: 0 },
      context(),
      /unknown parameter "desiredCount"/,
      false,
      false,
    ],
    [
      'too much memory at once',
      'increase_memory',
      { memoryMiB: 4096 },
      context(),
      /more than 2× the current 512/,
      false,
      false,
    ],
    [
      'a fallback value that is not the configured one',
      'switch_to_fallback',
      { parameterName: '/shop/api/payments-mode', value: 'off' },
      context(),
      /only the configured fallback/,
      false,
      false,
    ],
    [
      'the circuit breaker after two ineffective remediations',
      'restart_service',
      {},
      context({ ineffectiveRemediations: 2 }),
      /circuit breaker: 2 remediations/,
      false,
      true,
    ],
    [
      'a blast radius above half the tasks',
      'scale_in',
      { desiredCount: 2 },
      context({
        service: { ...service, minTasks: 1 },
        settings: { ...defaultPolicySettings, maxBlastShare: 0.25 },
      }),
      /blast radius: 2 of 4 tasks at once \(50%\) is above 25%/,
      false,
      false,
    ],
    [
      'a redeploy that would leave fewer tasks serving than the minimum',
      'restart_service',
      {},
      context({
        service: { ...service, minimumHealthyPercent: 25, minTasks: 3 },
        settings: { ...defaultPolicySettings, maxBlastShare: 1 },
      }),
      /1 tasks would serve, below the registered minimum 3/,
      false,
      false,
    ],
    [
      'stopping a task at the minimum',
      'stop_task',
      valid.stop_task,
      context({ service: { ...service, runningCount: 2 } }),
      /leaves 1 running, below the minimum 2/,
      false,
      false,
    ],
    [
      'another incident holding the lease',
      'restart_service',
      {},
      context({ leaseHeldBy: 'inc-9' }),
      /incident inc-9 is already remediating/,
      true,
      false,
    ],
    [
      'a change freeze',
      'restart_service',
      {},
      context({
        settings: {
          ...defaultPolicySettings,
          freezeWindows: [
            {
              kind: 'once',
              start: '2026-11-18T00:00:00Z',
              end: '2026-11-19T00:00:00Z',
              reason: 'release day',
            },
          ],
        },
      }),
      /change freeze: release day/,
      true,
      false,
    ],
    [
      'the rate limit',
      'restart_service',
      {},
      context({
        recentActions: [10, 20, 30].map((m) => ({
          action: 'restart_service' as const,
          at: new Date(now.getTime() - m * 60_000),
        })),
      }),
      /rate limit: 3 restart_service on this service in the last 60 min \(limit 3\)/,
      true,
      false,
    ],
  ])('denies %s', (_what, action, parameters, ctx, reason, retryable, escalate) => {
    const decision = evaluate(action, parameters, ctx);
    expect(decision).toMatchObject({ verdict: 'deny', retryable, escalate });
    expect(decision.verdict === 'deny' ? decision.reasons.join('\n') : '').toMatch(reason);
  });

  it('counts only the same action inside the window for the rate limit', () => {
    const recentActions = [
      { action: 'restart_service' as const, at: new Date(now.getTime() - 61 * 60_000) },
      { action: 'scale_out' as const, at: new Date(now.getTime() - 5 * 60_000) },
      { action: 'restart_service' as const, at: new Date(now.getTime() - 5 * 60_000) },
    ];
    expect(evaluate('restart_service', {}, context({ recentActions }))).toMatchObject({ verdict: 'allow' });
  });

  it('lists every reason at once, and is retryable only when time alone stands in the way', () => {
    const decision = evaluate(
      'scale_out',
      { desiredCount: 20 },
      context({ killSwitch: true, leaseHeldBy: 'inc-2' }),
    );
    expect(decision).toMatchObject({ verdict: 'deny', retryable: false });
    expect(decision.verdict === 'deny' && decision.reasons.length).toBe(3);
  });

  it('applies per-action autonomy over the service default, and a chaos experiment’s over both', () => {
    const autonomy = { default: 'observe' as const, perAction: { restart_service: 'auto' as const } };
    expect(evaluate('restart_service', {}, context({ autonomy }))).toMatchObject({
      verdict: 'allow',
      mode: 'auto',
    });
    expect(evaluate('scale_out', valid.scale_out, context({ autonomy }))).toMatchObject({ mode: 'observe' });
    const chaos = { experimentId: 'exp-1', autonomy: 'approve' as const };
    expect(evaluate('restart_service', {}, context({ autonomy, chaos }))).toMatchObject({
      verdict: 'approve',
      notes: ['chaos experiment exp-1: its settings apply'],
    });
  });
});

describe('change-freeze windows', () => {
  const weekly = (days: number[], from: string, to: string) => [
    { kind: 'weekly' as const, days, from, to, reason: 'freeze' },
  ];
  it.each([
    ['inside a weekly window', weekly([3], '13:00', '15:00'), '2026-11-18T14:00:00Z', true],
    ['before it', weekly([3], '13:00', '15:00'), '2026-11-18T12:59:00Z', false],
    ['at its end (exclusive)', weekly([3], '13:00', '15:00'), '2026-11-18T15:00:00Z', false],
    ['another day', weekly([4], '13:00', '15:00'), '2026-11-18T14:00:00Z', false],
    ['a window past midnight, the evening part', weekly([5], '22:00', '06:00'), '2026-11-20T23:30:00Z', true],
    [
      'a window past midnight, the morning after',
      weekly([5], '22:00', '06:00'),
      '2026-11-21T05:00:00Z',
      true,
    ],
    [
      'a window past midnight, the wrong morning',
      weekly([5], '22:00', '06:00'),
      '2026-11-20T05:00:00Z',
      false,
    ],
  ])('%s', (_what, windows, at, frozen) => {
    expect(activeFreeze(windows, new Date(at)) !== null).toBe(frozen);
  });
});
