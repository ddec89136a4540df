import { describe, expect, it } from 'vitest';
import { parseChaosConfig } from '../config/chaos.ts';
import {
  type ChaosGuardrails,
  checkGuardrails,
  type Experiment,
  expectedRootCauses,
  type GameDayFacts,
  revertRetryDelayMs,
  scoreGameDay,
  type TargetFacts,
} from './chaos.ts';

const guardrails: ChaosGuardrails = parseChaosConfig({}).guardrails;
const target = { cluster: 'shop', service: 'api' };
const experiment = (fault: Experiment['fault']): Experiment => ({
  name: 'exp',
  target,
  fault,
  durationMinutes: 10,
});
const stop = experiment({ kind: 'stop_tasks', share: 0.34 });
const service = { optedIn: true, desiredCount: 3, runningCount: 3, minimumHealthyPercent: 100 };
const healthy: TargetFacts = {
  killSwitch: { engaged: false, reason: null },
  service,
  openIncidentId: null,
  alarmsInAlarm: [],
  activeExperiments: 0,
};
// Tuesday 2026-11-17 10:30 UTC.
const tuesdayMorning = new Date('2026-11-17T10:30:00Z');

describe('chaos guardrails', () => {
  const cases: [string, Partial<TargetFacts>, Partial<ChaosGuardrails>, string | null][] = [
    ['a healthy, opted-in service', {}, {}, null],
    ['the kill switch', { killSwitch: { engaged: true, reason: null } }, {}, 'kill_switch'],
    ['an unknown service', { service: null }, {}, 'unknown_target'],
    ['no opt-in tag', { service: { ...service, optedIn: false } }, {}, 'opt_in'],
    [
      'a change freeze',
      {},
      { freezes: [{ from: '2026-11-17T00:00:00Z', to: '2026-11-18T00:00:00Z', reason: 'Black Friday' }] },
      'freeze',
    ],
    [
      'outside every window',
      {},
      { windows: [{ days: ['mon', 'tue'], start: '13:00', end: '16:00', timezone: 'UTC' }] },
      'window',
    ],
    [
      'inside a window',
      {},
      { windows: [{ days: ['tue'], start: '09:00', end: '12:00', timezone: 'UTC' }] },
      null,
    ],
    ['the concurrency limit', { activeExperiments: 1 }, {}, 'concurrency'],
    ['a higher concurrency limit', { activeExperiments: 1 }, { maxConcurrent: 2 }, null],
    ['an open incident', { openIncidentId: 'inc-1' }, {}, 'open_incident'],
    ['an alarm in ALARM', { alarmsInAlarm: ['api-5xx'] }, {}, 'alarm'],
    [
      'too few tasks to stop one',
      { service: { ...service, runningCount: 1, desiredCount: 1 } },
      {},
      'blast_radius',
    ],
  ];
  it.each(cases)('%s', (_name, facts, rails, guard) => {
    const verdict = checkGuardrails(
      stop,
      { ...healthy, ...facts },
      { ...guardrails, ...rails },
      tuesdayMorning,
    );
    expect(verdict.allowed ? null : verdict.guard).toBe(guard);
    if (!verdict.allowed) expect(verdict.reason.length).toBeGreaterThan(10);
  });

  it('checks the kill switch before anything else', () => {
    const verdict = checkGuardrails(
      stop,
      { ...healthy, killSwitch: { engaged: true, reason: null }, service: null, activeExperiments: 9 },
      guardrails,
      tuesdayMorning,
    );
    expect(verdict).toMatchObject({ allowed: false, guard: 'kill_switch' });
  });

  const radius: [
    string,
    Experiment['fault'],
    Partial<NonNullable<TargetFacts['service']>>,
    string | number,
  ][] = [
    ['stop a third of 3 tasks', { kind: 'stop_tasks', share: 0.34 }, {}, 1],
    ['stop a third of 10 tasks', { kind: 'stop_tasks', share: 0.34 }, { runningCount: 10 }, 3],
    ['stop all tasks', { kind: 'stop_tasks', share: 1 }, {}, 'blast_radius'],
    ['scale 3 → 2', { kind: 'scale_to', desiredCount: 2 }, {}, 2],
    ['scale 3 → 0', { kind: 'scale_to', desiredCount: 0 }, {}, 'blast_radius'],
    ['scale 3 → 6', { kind: 'scale_to', desiredCount: 6 }, {}, 6],
    ['scale 3 → 7 (more than 2×)', { kind: 'scale_to', desiredCount: 7 }, {}, 'blast_radius'],
    [
      'a bad deployment rolling through minimumHealthyPercent 100',
      { kind: 'bad_deployment', fault: 'command', variable: 'X', value: 'y' },
      {},
      'bad_deployment',
    ],
    [
      'a bad deployment that may take 100% of the tasks',
      { kind: 'bad_deployment', fault: 'command', variable: 'X', value: 'y' },
      { minimumHealthyPercent: 0 },
      'blast_radius',
    ],
    [
      'FIS on half the tasks',
      { kind: 'fis', action: 'cpu_stress', percentage: 50, stopAlarms: ['a'] },
      { runningCount: 4 },
      'fis',
    ],
    [
      'FIS on every task',
      { kind: 'fis', action: 'cpu_stress', percentage: 100, stopAlarms: ['a'] },
      {},
      'blast_radius',
    ],
  ];
  it.each(radius)('blast radius: %s', (_name, fault, over, expected) => {
    const verdict = checkGuardrails(
      experiment(fault),
      { ...healthy, service: { ...service, ...over } },
      guardrails,
      tuesdayMorning,
    );
    if (expected === 'blast_radius') expect(verdict).toMatchObject({ allowed: false, guard: 'blast_radius' });
    else if (typeof expected === 'number')
      expect(verdict.allowed && verdict.injection).toMatchObject(
        fault.kind === 'stop_tasks' ? { count: expected } : { desiredCount: expected, from: 3 },
      );
    else expect(verdict).toMatchObject({ allowed: true, injection: { kind: expected } });
  });
});

describe('chaos time windows', () => {
  const at = (window: ChaosGuardrails['windows'][number], now: string) =>
    checkGuardrails(stop, healthy, { ...guardrails, windows: [window] }, new Date(now));

  it('refuses outside the window, read in its own time zone (time-window.ts)', () => {
    const w = { days: ['tue' as const], start: '09:00', end: '12:00', timezone: 'America/New_York' };
    expect(at(w, '2026-11-17T14:30:00Z').allowed).toBe(true); // 09:30 in New York
    expect(at(w, '2026-11-17T10:30:00Z')).toMatchObject({
      allowed: false,
      guard: 'window',
      reason: 'outside the allowed chaos windows (tue 09:00–12:00 America/New_York)',
    });
  });
});

describe('game-day score', () => {
  const injectedAt = new Date('2026-11-17T10:00:00Z');
  const at = (s: number) => new Date(injectedAt.getTime() + s * 1000);
  const incident = {
    id: 'inc',
    detectedAt: at(20),
    state: 'resolved',
    terminal: true,
    closedAt: at(95),
    diagnosedRootCause: 'bad_deployment',
    undoUsed: false,
  };
  const facts = (over: Partial<GameDayFacts> = {}): GameDayFacts => ({
    injectedAt,
    ended: true,
    revertNeeded: false,
    expected: ['bad_deployment', 'crash_loop'],
    incident,
    ...over,
  });

  it('gives a detected, rightly diagnosed, mitigated experiment full marks', () => {
    expect(scoreGameDay(facts())).toEqual({
      incidentId: 'inc',
      detected: true,
      timeToDetectMs: 20_000,
      diagnosedRootCause: 'bad_deployment',
      diagnosisCorrect: true,
      mitigated: true,
      timeToMitigateMs: 95_000,
      undoUsed: false,
      revertNeeded: false,
      score: 100,
      final: true,
    });
  });

  it('scores what went wrong', () => {
    const wrong = facts({
      revertNeeded: true,
      incident: { ...incident, state: 'escalated', diagnosedRootCause: 'oom', undoUsed: true },
    });
    expect(scoreGameDay(wrong)).toMatchObject({
      diagnosisCorrect: false,
      mitigated: false,
      timeToMitigateMs: null,
      score: 25,
    });
    expect(scoreGameDay(facts({ incident: null, revertNeeded: true }))).toMatchObject({
      detected: false,
      timeToDetectMs: null,
      score: 0,
      final: true,
    });
  });

  it('is not final while the experiment runs or its incident is open', () => {
    expect(scoreGameDay(facts({ ended: false, revertNeeded: null })).final).toBe(false);
    expect(
      scoreGameDay(facts({ incident: { ...incident, terminal: false, state: 'verifying' } })).final,
    ).toBe(false);
  });

  it('expects the fault’s own root cause unless the experiment names one', () => {
    expect(
      expectedRootCauses(experiment({ kind: 'break_dependency', parameterName: '/p', badValue: 'x' })),
    ).toEqual(['dependency_failure', 'config_error']);
    expect(expectedRootCauses({ ...stop, expectedRootCause: 'crash_loop' })).toEqual(['crash_loop']);
  });

  it('backs off revert retries, doubling, at most an hour', () => {
    expect([1, 2, 3, 10].map((n) => revertRetryDelayMs(n, 60))).toEqual([
      60_000, 120_000, 240_000, 3_600_000,
    ]);
  });
});

describe('chaos configuration', () => {
  it('fills every default and refuses a bad experiment with a clear reason', () => {
    const config = parseChaosConfig({
      experiments: [{ name: 'kill-one', target, fault: { kind: 'stop_tasks' } }],
    });
    expect(config.experiments[0]).toMatchObject({ durationMinutes: 15, fault: { share: 0.34 } });
    expect(config.guardrails).toMatchObject({
      maxConcurrent: 1,
      maxTaskShare: 0.5,
      windows: [],
      freezes: [],
    });
    expect(() =>
      parseChaosConfig({ experiments: [{ name: 'Bad Name', target, fault: { kind: 'stop_tasks' } }] }),
    ).toThrow(/experiments/);
    expect(() =>
      parseChaosConfig({
        experiments: [
          { name: 'a', target, fault: { kind: 'stop_tasks' } },
          { name: 'a', target, fault: { kind: 'scale_to', desiredCount: 1 } },
        ],
      }),
    ).toThrow(/unique \(a\)/);
    expect(() =>
      parseChaosConfig({
        experiments: [{ name: 'f', target, fault: { kind: 'fis', action: 'cpu_stress' } }],
      }),
    ).toThrow(/stopAlarms/);
    expect(() =>
      parseChaosConfig({
        guardrails: { windows: [{ start: '09:00', end: '17:00', timezone: 'Mars/Olympus' }] },
      }),
    ).toThrow(/unknown time zone\(s\): Mars\/Olympus/);
  });
});
