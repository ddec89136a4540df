import { describe, expect, it } from 'vitest';
import {
  type AutonomyEvidence,
  defaultLearningSettings,
  earnedPromotion,
  outcomeOfStep,
  recurrence,
  stepVerdict,
} from './learning.ts';

const day = 86_400_000;
const now = new Date('2026-11-21T12:00:00Z');
const ago = (days: number) => new Date(now.getTime() - days * day);

describe('outcomeOfStep', () => {
  it.each([
    ['resolved', 'resolved'],
    ['no_effect', 'no_effect'],
    ['worse', 'worse'],
    ['failed', 'error'],
    ['executed', null],
    ['dry_run', null],
    ['rejected', null],
    ['planned', null],
  ])('%s → %s', (status, result) => expect(outcomeOfStep(status)).toBe(result));
});

describe('recurrence', () => {
  const window = { count: 3, windowDays: 7 };
  it('counts closings inside the window only', () => {
    const r = recurrence([ago(0), ago(2), ago(8), ago(30)], now, window);
    expect(r).toEqual({ count: 2, recurring: false, crossed: false });
  });
  it('crosses once, at exactly the threshold, and stays recurring after', () => {
    expect(recurrence([ago(0), ago(1), ago(6.9)], now, window)).toEqual({
      count: 3,
      recurring: true,
      crossed: true,
    });
    expect(recurrence([ago(0), ago(1), ago(2), ago(3)], now, window)).toEqual({
      count: 4,
      recurring: true,
      crossed: false,
    });
  });
  it('ignores closings after now (clock skew between agents)', () => {
    expect(recurrence([new Date(now.getTime() + day)], now, window).count).toBe(0);
  });
});

const evidence = (n: number, status: string, extra: Partial<AutonomyEvidence> = {}): AutonomyEvidence => ({
  key: `i${n}:1`,
  mode: 'approve',
  status,
  recovered: false,
  confirmed: false,
  at: ago(30 - n),
  ...extra,
});

describe('stepVerdict', () => {
  it('judges executed steps by their verification', () => {
    expect(stepVerdict(evidence(1, 'resolved'))).toBe('right');
    expect(stepVerdict(evidence(1, 'worse'))).toBe('regression');
    expect(stepVerdict(evidence(1, 'no_effect'))).toBe('wrong');
    expect(stepVerdict(evidence(1, 'failed'))).toBe('wrong');
    expect(stepVerdict(evidence(1, 'rejected'))).toBe('wrong');
    expect(stepVerdict(evidence(1, 'expired'))).toBe('neutral');
    expect(stepVerdict(evidence(1, 'executed'))).toBe('neutral');
  });
  it('counts a dry run only when it was needed and the action is known to fix the problem', () => {
    const dry = { mode: 'observe' as const };
    expect(stepVerdict(evidence(1, 'dry_run', { ...dry, confirmed: true }))).toBe('right');
    expect(stepVerdict(evidence(1, 'dry_run', { ...dry, confirmed: false }))).toBe('neutral');
    expect(stepVerdict(evidence(1, 'dry_run', { ...dry, confirmed: true, recovered: true }))).toBe('neutral');
  });
});

describe('earnedPromotion', () => {
  const settings = { promotionStreak: 3, alwaysApprove: false };
  it('promotes approve → auto after k right answers in a row', () => {
    const history = [1, 2, 3].map((n) => evidence(n, 'resolved'));
    expect(earnedPromotion(history, 'approve', settings)).toEqual({
      from: 'approve',
      to: 'auto',
      evidence: 3,
      steps: ['i1:1', 'i2:1', 'i3:1'],
    });
  });
  it('promotes observe → approve on confirmed dry runs', () => {
    const history = [1, 2, 3].map((n) => evidence(n, 'dry_run', { mode: 'observe', confirmed: true }));
    expect(earnedPromotion(history, 'observe', settings)?.to).toBe('approve');
  });
  it('a regression or a wrong answer restarts the streak; neutral steps do not break it', () => {
    const history = [
      evidence(1, 'resolved'),
      evidence(2, 'resolved'),
      evidence(3, 'worse'),
      evidence(4, 'resolved'),
      evidence(5, 'expired'),
      evidence(6, 'resolved'),
    ];
    expect(earnedPromotion(history, 'approve', settings)).toBeNull();
    history.push(evidence(7, 'resolved'));
    expect(earnedPromotion(history, 'approve', settings)?.steps).toEqual(['i4:1', 'i6:1', 'i7:1']);
    history.push(evidence(8, 'rejected'));
    expect(earnedPromotion(history, 'approve', settings)).toBeNull();
  });
  it('orders by time, not by the order given', () => {
    const history = [evidence(3, 'worse'), evidence(1, 'resolved'), evidence(2, 'resolved')];
    expect(earnedPromotion(history, 'approve', { ...settings, promotionStreak: 2 })).toBeNull();
  });
  it('never recommends auto for an action that always needs a human, nor beyond auto', () => {
    const history = [1, 2, 3].map((n) => evidence(n, 'resolved'));
    expect(earnedPromotion(history, 'approve', { ...settings, alwaysApprove: true })).toBeNull();
    expect(earnedPromotion(history, 'observe', { ...settings, alwaysApprove: true })?.to).toBe('approve');
    expect(earnedPromotion(history, 'auto', settings)).toBeNull();
  });
  it('defaults ask for five', () => {
    expect(defaultLearningSettings.promotionStreak).toBe(5);
  });
});
