import { describe, expect, it } from 'vitest';
import {
  assertTransition,
  type CorrelationContext,
  canTransition,
  decide,
  IllegalTransitionError,
  type IncidentState,
  incidentStates,
  isSelfResolutionDue,
  type OpenIncidentView,
  defaultCorrelationSettings as settings,
  terminalStates,
} from './incident.ts';

const legal: Record<IncidentState, IncidentState[]> = {
  open: ['diagnosing', 'escalated', 'self_resolved'],
  diagnosing: ['planned', 'escalated', 'self_resolved'],
  planned: ['awaiting_approval', 'acting', 'escalated', 'self_resolved'],
  awaiting_approval: ['acting', 'escalated', 'self_resolved'],
  acting: ['verifying', 'failed', 'escalated'],
  verifying: ['resolved', 'planned', 'acting', 'failed', 'escalated'],
  resolved: [],
  failed: [],
  escalated: [],
  self_resolved: [],
};

describe('incident state machine', () => {
  const pairs = incidentStates.flatMap((from) => incidentStates.map((to) => [from, to] as const));
  it.each(pairs)('%s → %s', (from, to) => {
    const allowed = legal[from].includes(to);
    expect(canTransition(from, to)).toBe(allowed);
    if (allowed) expect(() => assertTransition(from, to)).not.toThrow();
    else expect(() => assertTransition(from, to)).toThrow(IllegalTransitionError);
  });

  it('has exactly the four terminal states', () => {
    expect([...terminalStates].sort()).toEqual(['escalated', 'failed', 'resolved', 'self_resolved']);
  });

  it('never self-resolves once an action was taken', () => {
    for (const state of ['acting', 'verifying'] as const)
      expect(canTransition(state, 'self_resolved')).toBe(false);
  });
});

const t0 = new Date('2026-11-20T10:00:00Z');
const at = (minutes: number) => new Date(t0.getTime() + minutes * 60_000);
const service = { cluster: 'shop', service: 'api' };
const empty: CorrelationContext = { sameFingerprint: null, openIncident: null, lastChaos: null };
const incident = (over: Partial<OpenIncidentView> = {}): OpenIncidentView => ({
  id: 'inc-1',
  state: 'open',
  version: 3,
  lastSignalAt: at(0),
  lastFaultAt: at(0),
  recoverySeenAt: null,
  ...over,
});
const sig = (classification: 'fault' | 'recovery' | 'benign', minute: number) => ({
  classification,
  occurredAt: at(minute),
  service,
  kind: 'alarm',
});

describe('decide', () => {
  it.each([
    [
      'first fault on a quiet service opens an incident',
      sig('fault', 1),
      empty,
      { kind: 'open', chaosExperimentId: null },
    ],
    [
      'a fault joins the live incident',
      sig('fault', 2),
      { ...empty, openIncident: incident() },
      { kind: 'attach', incidentId: 'inc-1', expectedVersion: 3, recovery: false },
    ],
    [
      'the same symptom inside the dedupe window is a repeat',
      sig('fault', 4),
      {
        ...empty,
        sameFingerprint: { signalId: 's1', lastSeenAt: at(0), incidentId: 'inc-1' },
        openIncident: incident(),
      },
      { kind: 'repeat', signalId: 's1', incidentId: 'inc-1' },
    ],
    [
      'the same symptom after the dedupe window is a new signal on the incident',
      sig('fault', 6),
      {
        ...empty,
        sameFingerprint: { signalId: 's1', lastSeenAt: at(0), incidentId: 'inc-1' },
        openIncident: incident(),
      },
      { kind: 'attach', incidentId: 'inc-1', expectedVersion: 3, recovery: false },
    ],
    [
      'ALARM → OK → ALARM: the second ALARM is not swallowed as a repeat',
      sig('fault', 3),
      {
        ...empty,
        sameFingerprint: { signalId: 's1', lastSeenAt: at(0), incidentId: 'inc-1' },
        openIncident: incident({ recoverySeenAt: at(2) }),
      },
      { kind: 'attach', incidentId: 'inc-1', expectedVersion: 3, recovery: false },
    ],
    [
      'OK → ALARM → OK: the second OK is not swallowed either',
      sig('recovery', 3),
      {
        ...empty,
        sameFingerprint: { signalId: 'ok1', lastSeenAt: at(1), incidentId: 'inc-1' },
        openIncident: incident({ recoverySeenAt: at(1), lastFaultAt: at(2) }),
      },
      { kind: 'attach', incidentId: 'inc-1', expectedVersion: 3, recovery: true },
    ],
    [
      'a recovery joins the live incident as a recovery',
      sig('recovery', 5),
      { ...empty, openIncident: incident() },
      { kind: 'attach', incidentId: 'inc-1', expectedVersion: 3, recovery: true },
    ],
    [
      'a recovery with no incident is recorded as suppressed',
      sig('recovery', 5),
      empty,
      { kind: 'suppress', reason: 'recovery_without_incident' },
    ],
    [
      'a benign signal is recorded as suppressed',
      sig('benign', 5),
      { ...empty, openIncident: incident() },
      { kind: 'suppress', reason: 'benign' },
    ],
    [
      'a fault soon after a chaos marker names the experiment',
      sig('fault', 10),
      { ...empty, lastChaos: { experimentId: 'exp-1', at: at(2) } },
      { kind: 'open', chaosExperimentId: 'exp-1' },
    ],
    [
      'an old chaos marker is not blamed',
      sig('fault', 60),
      { ...empty, lastChaos: { experimentId: 'exp-1', at: at(2) } },
      { kind: 'open', chaosExperimentId: null },
    ],
  ])('%s', (_name, signal, context, expected) => {
    expect(decide(signal, context as CorrelationContext, settings, at(60))).toEqual(expected);
  });
});

describe('isSelfResolutionDue', () => {
  it.each([
    ['recovered and quiet for the quiet period', incident({ recoverySeenAt: at(5) }), at(15), true],
    ['recovered but not quiet long enough', incident({ recoverySeenAt: at(5) }), at(14), false],
    ['a fault after the recovery', incident({ recoverySeenAt: at(5), lastFaultAt: at(6) }), at(30), false],
    ['never recovered', incident(), at(60), false],
    ['an action is running', incident({ state: 'acting', recoverySeenAt: at(5) }), at(60), false],
    [
      'diagnosis only (no action yet)',
      incident({ state: 'diagnosing', recoverySeenAt: at(5) }),
      at(60),
      true,
    ],
  ])('%s → %s', (_name, view, now, expected) => {
    expect(isSelfResolutionDue(view, settings, now)).toBe(expected);
  });
});
