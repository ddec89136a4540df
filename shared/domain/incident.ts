/**
 * Incident lifecycle and signal correlation — pure rules, table-tested.
 */
import { HomeostatError } from './errors.ts';
import type { Classification, ServiceRef } from './signal.ts';

export const incidentStates = [
  'open',
  'diagnosing',
  'planned',
  'awaiting_approval',
  'acting',
  'verifying',
  'resolved',
  'failed',
  'escalated',
  'self_resolved',
] as const;
export type IncidentState = (typeof incidentStates)[number];

const transitions: Record<IncidentState, readonly IncidentState[]> = {
  open: ['diagnosing', 'escalated', 'self_resolved'],
  diagnosing: ['planned', 'escalated', 'self_resolved'],
  planned: ['awaiting_approval', 'acting', 'escalated', 'self_resolved'],
  awaiting_approval: ['acting', 'escalated', 'self_resolved'],
  acting: ['verifying', 'failed', 'escalated'],
  // verifying → planned: the repair did not work and was undone; the next option is planned.
  verifying: ['resolved', 'planned', 'acting', 'failed', 'escalated'],
  resolved: [],
  failed: [],
  escalated: [],
  self_resolved: [],
};

export const terminalStates: readonly IncidentState[] = incidentStates.filter(
  (s) => transitions[s].length === 0,
);

export class IllegalTransitionError extends HomeostatError {
  override readonly name = 'IllegalTransitionError';
  constructor(
    readonly from: IncidentState,
    readonly to: IncidentState,
  ) {
    super(`incident cannot go from ${from} to ${to}`);
  }
}

export const canTransition = (from: IncidentState, to: IncidentState) => transitions[from].includes(to);

export function assertTransition(from: IncidentState, to: IncidentState): void {
  if (!canTransition(from, to)) throw new IllegalTransitionError(from, to);
}

export const isTerminal = (state: IncidentState) => transitions[state].length === 0;

export interface CorrelationSettings {
  /** The same fingerprint inside this window counts as a repeat of one signal. */
  dedupeWindowMs: number;
  /** After a recovery, this long without a fault self-resolves an incident no action was taken on. */
  quietPeriodMs: number;
  /** A chaos marker this recent is taken as the cause of a new incident on its service. */
  chaosAttributionMs: number;
}

export const defaultCorrelationSettings: CorrelationSettings = {
  dedupeWindowMs: 5 * 60_000,
  quietPeriodMs: 10 * 60_000,
  chaosAttributionMs: 30 * 60_000,
};

export interface OpenIncidentView {
  id: string;
  state: IncidentState;
  version: number;
  lastSignalAt: Date;
  lastFaultAt: Date | null;
  recoverySeenAt: Date | null;
}

/** What the store knows about the signal's service when the signal arrives. */
export interface CorrelationContext {
  /** A recorded signal with the same fingerprint, if any, and when it was last seen. */
  sameFingerprint: { signalId: string; lastSeenAt: Date; incidentId: string | null } | null;
  /** The service's non-terminal incident, if any. */
  openIncident: OpenIncidentView | null;
  /** The most recent chaos marker on the service, if any. */
  lastChaos: { experimentId: string; at: Date } | null;
}

export interface IncomingSignal {
  classification: Classification;
  occurredAt: Date;
  service: ServiceRef;
  kind: string;
}

export type SuppressionReason = 'duplicate' | 'benign' | 'recovery_without_incident';

export type Decision =
  | { kind: 'repeat'; signalId: string; incidentId: string | null }
  | { kind: 'open'; chaosExperimentId: string | null }
  | { kind: 'attach'; incidentId: string; expectedVersion: number; recovery: boolean }
  | { kind: 'suppress'; reason: Exclude<SuppressionReason, 'duplicate'> };

/**
 * Where a new signal goes. Every signal either joins an incident (open or
 * attach), repeats a recorded signal, or is recorded as suppressed with a
 * reason — nothing falls through.
 */
export function decide(
  signal: IncomingSignal,
  ctx: CorrelationContext,
  settings: CorrelationSettings,
  now: Date,
): Decision {
  const at = Math.min(now.getTime(), signal.occurredAt.getTime());
  const open = ctx.openIncident;
  const same = ctx.sameFingerprint;
  if (
    same &&
    at - same.lastSeenAt.getTime() <= settings.dedupeWindowMs &&
    !flippedSince(signal, open, same.lastSeenAt)
  ) {
    return { kind: 'repeat', signalId: same.signalId, incidentId: same.incidentId };
  }
  switch (signal.classification) {
    case 'fault':
      // A service has at most one live incident: every fault while it lives joins it. Flapping
      // (fault, recovery, fault…) therefore never closes and reopens; only the quiet period closes.
      if (open)
        return { kind: 'attach', incidentId: open.id, expectedVersion: open.version, recovery: false };
      return {
        kind: 'open',
        chaosExperimentId:
          ctx.lastChaos && at - ctx.lastChaos.at.getTime() <= settings.chaosAttributionMs
            ? ctx.lastChaos.experimentId
            : null,
      };
    case 'recovery':
      if (open) return { kind: 'attach', incidentId: open.id, expectedVersion: open.version, recovery: true };
      return { kind: 'suppress', reason: 'recovery_without_incident' };
    case 'benign':
      return { kind: 'suppress', reason: 'benign' };
  }
}

/**
 * A repeat of a symptom is only a repeat if the incident has not flipped in
 * between: ALARM → OK → ALARM must reach the incident as a new fault, or the
 * quiet period would close an incident whose alarm is firing again.
 */
function flippedSince(signal: IncomingSignal, open: OpenIncidentView | null, lastSeen: Date): boolean {
  if (!open) return false;
  const opposite = signal.classification === 'fault' ? open.recoverySeenAt : open.lastFaultAt;
  return opposite !== null && opposite.getTime() > lastSeen.getTime();
}

/** True when an incident saw a recovery, then no fault for the quiet period, and no action was taken. */
export function isSelfResolutionDue(
  incident: OpenIncidentView,
  settings: CorrelationSettings,
  now: Date,
): boolean {
  if (!canTransition(incident.state, 'self_resolved') || !incident.recoverySeenAt) return false;
  const lastFault = incident.lastFaultAt?.getTime() ?? 0;
  if (lastFault > incident.recoverySeenAt.getTime()) return false;
  return now.getTime() - incident.recoverySeenAt.getTime() >= settings.quietPeriodMs;
}
