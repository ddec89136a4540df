import { describe, expect, it } from 'vitest';
import { buildReport, percentile, type ReportIncident } from './report.ts';

const since = new Date('2026-11-14T00:00:00Z');
const until = new Date('2026-11-21T12:00:00Z');
const incident = (over: Partial<ReportIncident>): ReportIncident => ({
  id: 'i',
  cluster: 'shop',
  service: 'api',
  title: 't',
  state: 'resolved',
  openedAt: new Date('2026-11-20T10:00:00Z'),
  closedAt: new Date('2026-11-20T10:02:00Z'),
  rootCause: 'oom',
  tokens: 100,
  costUsd: 0.01,
  chaosExperimentId: null,
  steps: [],
  timeline: [],
  ...over,
});

describe('buildReport', () => {
  it('counts incidents per day, time to resolve, success per action and cost', () => {
    const r = buildReport(
      [
        incident({
          id: 'a',
          steps: [
            { step: 1, action: 'scale_out', mode: 'auto', status: 'worse', undone: true },
            { step: 2, action: 'rollback_task_definition', mode: 'auto', status: 'resolved', undone: false },
          ],
        }),
        incident({ id: 'b', state: 'self_resolved', closedAt: new Date('2026-11-20T10:10:00Z') }),
        incident({
          id: 'c',
          state: 'escalated',
          openedAt: new Date('2026-11-21T01:00:00Z'),
          closedAt: new Date('2026-11-21T01:30:00Z'),
          steps: [{ step: 1, action: 'scale_out', mode: 'auto', status: 'no_effect', undone: true }],
          costUsd: 0.02,
        }),
        incident({
          id: 'd',
          state: 'acting',
          closedAt: null,
          steps: [{ step: 1, action: 'restart_service', mode: 'auto', status: 'executing', undone: false }],
        }),
      ],
      since,
      until,
    );
    expect(r.perDay).toHaveLength(8);
    expect(r.perDay.find((d) => d.day === '2026-11-20')).toEqual({
      day: '2026-11-20',
      opened: 3,
      resolved: 2,
    });
    expect(r.perDay.find((d) => d.day === '2026-11-21')).toEqual({
      day: '2026-11-21',
      opened: 1,
      resolved: 0,
    });
    expect(r.totals).toEqual({
      incidents: 4,
      resolved: 1,
      selfResolved: 1,
      escalated: 1,
      open: 1,
      actions: 3,
      tokens: 400,
      costUsd: expect.closeTo(0.05, 6),
    });
    expect(r.timeToResolveMs).toEqual({ p50: 120_000, p90: 600_000, values: [120_000, 600_000] });
    expect(r.actions).toEqual([
      { action: 'scale_out', runs: 2, resolved: 0, rate: 0 },
      { action: 'rollback_task_definition', runs: 1, resolved: 1, rate: 1 },
    ]);
    expect(r.costPerDay.find((d) => d.day === '2026-11-21')?.usd).toBeCloseTo(0.02);
    expect(r.incidents.map((i) => i.id)[0]).toBe('c');
  });
  it('is empty but well-formed with no incidents', () => {
    const r = buildReport([], since, until);
    expect(r.totals.incidents).toBe(0);
    expect(r.timeToResolveMs.p50).toBeNull();
    expect(r.perDay.every((d) => d.opened === 0)).toBe(true);
  });
  it('takes nearest-rank percentiles', () => {
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 90)).toBe(9);
    expect(percentile([5], 50)).toBe(5);
    expect(percentile([], 50)).toBeNull();
  });
});
