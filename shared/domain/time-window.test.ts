import { describe, expect, it } from 'vitest';
import { type ChaosGuardrails, checkGuardrails, type TargetFacts } from './chaos.ts';
import { activeFreeze } from './policy.ts';
import { describeWeekly, insideInterval, insideWeekly, wallClock } from './time-window.ts';

describe('weekly windows', () => {
  it('reads the window in its own time zone', () => {
    const w = { days: ['tue' as const], start: '09:00', end: '12:00', timezone: 'America/New_York' };
    expect(insideWeekly(w, new Date('2026-11-17T14:30:00Z'))).toBe(true); // 09:30 in New York
    expect(insideWeekly(w, new Date('2026-11-17T10:30:00Z'))).toBe(false); // 05:30 in New York
    expect(insideWeekly(w, new Date('2026-11-17T17:00:00Z'))).toBe(false); // 12:00: the end is exclusive
  });

  it('follows daylight saving time with the wall clock', () => {
    const w = { days: ['mon' as const], start: '09:00', end: '10:00', timezone: 'Europe/Paris' };
    // 09:30 in Paris is 07:30 UTC in summer (CEST) and 08:30 UTC in winter (CET).
    expect(insideWeekly(w, new Date('2026-07-06T07:30:00Z'))).toBe(true);
    expect(insideWeekly(w, new Date('2026-07-06T08:30:00Z'))).toBe(false);
    expect(insideWeekly(w, new Date('2026-11-16T08:30:00Z'))).toBe(true);
    expect(insideWeekly(w, new Date('2026-11-16T07:30:00Z'))).toBe(false);
  });

  it('takes the weekday from the time zone, not from UTC', () => {
    // Tuesday 01:00 in Tokyo is still Monday in UTC.
    const w = { days: ['tue' as const], start: '00:30', end: '02:00', timezone: 'Asia/Tokyo' };
    expect(wallClock(new Date('2026-11-16T16:00:00Z'), 'Asia/Tokyo')).toEqual({ day: 2, minute: 60 });
    expect(insideWeekly(w, new Date('2026-11-16T16:00:00Z'))).toBe(true);
    expect(insideWeekly({ ...w, timezone: 'UTC' }, new Date('2026-11-16T16:00:00Z'))).toBe(false);
  });

  it('runs past midnight into the next day, in any time zone', () => {
    const utc = { days: ['fri' as const], start: '22:00', end: '02:00' };
    expect(insideWeekly(utc, new Date('2026-11-20T23:00:00Z'))).toBe(true); // Friday night
    expect(insideWeekly(utc, new Date('2026-11-21T01:00:00Z'))).toBe(true); // small hours of Saturday
    expect(insideWeekly(utc, new Date('2026-11-21T23:00:00Z'))).toBe(false); // Saturday night
    expect(insideWeekly(utc, new Date('2026-11-20T01:00:00Z'))).toBe(false); // small hours of Friday
    expect(insideWeekly(utc, new Date('2026-11-21T02:00:00Z'))).toBe(false); // the end is exclusive
    // Saturday 22:00 to Sunday 02:00 in New York: the small hours of Sunday there are Sunday 06:00 UTC.
    const ny = { days: ['sat' as const], start: '22:00', end: '02:00', timezone: 'America/New_York' };
    expect(insideWeekly(ny, new Date('2026-11-22T06:00:00Z'))).toBe(true);
    expect(insideWeekly(ny, new Date('2026-11-22T08:00:00Z'))).toBe(false);
    // Saturday wraps to Sunday (day 0).
    expect(insideWeekly({ days: [6], start: '23:00', end: '01:00' }, new Date('2026-11-22T00:30:00Z'))).toBe(
      true,
    );
  });

  it('takes days as names or numbers (0 = Sunday) alike', () => {
    const at = new Date('2026-11-18T14:00:00Z'); // a Wednesday
    expect(insideWeekly({ days: [3], start: '13:00', end: '15:00' }, at)).toBe(true);
    expect(insideWeekly({ days: ['wed'], start: '13:00', end: '15:00' }, at)).toBe(true);
    expect(insideWeekly({ days: ['thu', 4], start: '13:00', end: '15:00' }, at)).toBe(false);
  });

  it('an interval is closed at its start, open at its end', () => {
    const from = '2026-11-26T00:00:00Z';
    const to = '2026-12-01T00:00:00Z';
    expect(insideInterval(from, to, new Date(from))).toBe(true);
    expect(insideInterval(from, to, new Date(to))).toBe(false);
  });

  it('describes a window as configured', () => {
    expect(describeWeekly({ days: [2, 'wed'], start: '09:30', end: '16:00', timezone: 'Europe/Paris' })).toBe(
      'tue,wed 09:30–16:00 Europe/Paris',
    );
  });
});

describe('one reading for chaos windows and policy freezes', () => {
  // Friday 22:00 to 02:00, both ways of writing it, checked at the same instants.
  const instants = [
    ['2026-11-20T23:30:00Z', true],
    ['2026-11-21T01:59:00Z', true],
    ['2026-11-21T02:00:00Z', false],
    ['2026-11-20T01:00:00Z', false],
    ['2026-11-21T23:30:00Z', false],
  ] as const;
  const guardrails = (windows: ChaosGuardrails['windows']): ChaosGuardrails => ({
    maxConcurrent: 1,
    maxTaskShare: 0.5,
    minHealthyTasks: 1,
    maxScaleUpFactor: 2,
    windows,
    freezes: [],
  });
  const facts: TargetFacts = {
    killSwitch: { engaged: false, reason: null },
    service: { optedIn: true, desiredCount: 3, runningCount: 3, minimumHealthyPercent: 100 },
    openIncidentId: null,
    alarmsInAlarm: [],
    activeExperiments: 0,
  };
  const experiment = {
    name: 'e',
    target: { cluster: 'c', service: 's' },
    fault: { kind: 'stop_tasks' as const, share: 0.34 },
    durationMinutes: 5,
  };

  it.each(instants)('%s: inside is %s for both', (at, inside) => {
    const now = new Date(at);
    const chaos = checkGuardrails(
      experiment,
      facts,
      guardrails([{ days: ['fri'], start: '22:00', end: '02:00', timezone: 'UTC' }]),
      now,
    );
    expect(chaos.allowed).toBe(inside);
    if (!chaos.allowed) expect(chaos.reason).toContain('fri 22:00–02:00 UTC');
    const frozen = activeFreeze(
      [{ kind: 'weekly', days: [5], from: '22:00', to: '02:00', reason: 'r' }],
      now,
    );
    expect(frozen !== null).toBe(inside);
  });
});
