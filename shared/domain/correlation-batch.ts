/**
 * Recording a batch of signals in one transaction: the store reads the
 * history the batch touches once, this applies every signal in order against
 * that history kept up to date in memory (so signal n sees what signals
 * 1…n-1 did), and returns what each signal did plus the rows to write.
 * Pure: no I/O, ids come from the caller.
 */
import type { Envelope } from '../events/envelope.ts';
import type { Applied, IncidentRecord, IngestRequest } from './ports.ts';
import type { ServiceRef } from './signal.ts';

/** The most recent recorded signal of a fingerprint. */
export interface KnownSignal {
  id: string;
  lastSeenAt: Date;
  incidentId: string | null;
  occurrences: number;
}

/** A non-terminal incident with what correlation needs beyond the record. */
export interface LiveIncident extends IncidentRecord {
  lastFaultAt: Date | null;
  recoverySeenAt: Date | null;
}

/** What the store knows before the batch, for the event ids, fingerprints and services it holds. */
export interface BatchHistory {
  seenEventIds: ReadonlySet<string>;
  latestByFingerprint: ReadonlyMap<string, KnownSignal>;
  /** Keyed by serviceKey(). */
  liveIncidents: ReadonlyMap<string, LiveIncident>;
  /** The most recent chaos marker per service (experiment id null when it named none). */
  lastChaos: ReadonlyMap<string, { experimentId: string | null; at: Date }>;
}

export interface NewSignalRow {
  request: IngestRequest;
  incidentId: string | null;
  suppressedReason: string | null;
  /** Final values after the batch's own repeats of it. */
  state: KnownSignal;
}

export interface TimelineRow {
  incidentId: string;
  at: Date;
  kind: string;
  detail: object;
}

/** Everything the batch changes, in the order it must be written. */
export interface BatchWrites {
  newIncidents: LiveIncident[];
  /** Incidents that existed before the batch: final values, guarded by the version read. */
  updatedIncidents: { incident: LiveIncident; expectedVersion: number }[];
  newSignals: NewSignalRow[];
  /** Signals that existed before the batch and were repeated by it. */
  repeatedSignals: { id: string; added: number; lastSeenAt: Date }[];
  /** Delivery ledger rows for repeats (a new signal's row is written with the signal). */
  repeatLedger: { eventId: string; signalId: string }[];
  timeline: TimelineRow[];
  outbox: { causationId: string; envelope: Envelope }[];
}

/** A store with no history: nothing delivered, no signals, no live incidents. */
export const emptyHistory = (): BatchHistory => ({
  seenEventIds: new Set(),
  latestByFingerprint: new Map(),
  liveIncidents: new Map(),
  lastChaos: new Map(),
});

export type BatchResult = { applied: Applied; pending: Envelope[] };

export const serviceKey = (ref: ServiceRef) => `${ref.cluster}/${ref.service}`;

const later = (a: Date, b: Date) => (a.getTime() >= b.getTime() ? a : b);

const recordOf = (incident: LiveIncident): IncidentRecord => ({
  id: incident.id,
  service: incident.service,
  state: incident.state,
  version: incident.version,
  title: incident.title,
  fingerprint: incident.fingerprint,
  openedAt: incident.openedAt,
  lastSignalAt: incident.lastSignalAt,
  signalCount: incident.signalCount,
  chaosExperimentId: incident.chaosExperimentId,
  serviceSnapshot: incident.serviceSnapshot,
});

/**
 * Applies `requests` in order. A request whose event id the store has seen is
 * a redelivery (its unpublished envelopes are the store's to find); one whose
 * event id appeared earlier in the batch is a redelivery with nothing pending.
 */
export function applyBatch(
  requests: readonly IngestRequest[],
  history: BatchHistory,
  newIncidentId: () => string,
): { results: BatchResult[]; writes: BatchWrites } {
  const seen = new Set(history.seenEventIds);
  // Copies: the batch updates these as it goes, the caller's history stays as read.
  const latest = new Map([...history.latestByFingerprint].map(([k, v]) => [k, { ...v }]));
  const live = new Map([...history.liveIncidents].map(([k, v]) => [k, { ...v }]));
  const chaos = new Map(history.lastChaos);
  const created = new Map<string, LiveIncident>();
  const updated = new Map<string, { incident: LiveIncident; expectedVersion: number }>();
  const newSignals = new Map<string, NewSignalRow>();
  const repeated = new Map<string, { id: string; added: number; lastSeenAt: Date }>();
  const writes: BatchWrites = {
    newIncidents: [],
    updatedIncidents: [],
    newSignals: [],
    repeatedSignals: [],
    repeatLedger: [],
    timeline: [],
    outbox: [],
  };

  const recordSignal = (
    request: IngestRequest,
    incidentId: string | null,
    suppressedReason: string | null,
  ) => {
    const { signal } = request;
    const state: KnownSignal = { id: signal.id, lastSeenAt: signal.occurredAt, incidentId, occurrences: 1 };
    newSignals.set(signal.id, { request, incidentId, suppressedReason, state });
    const current = latest.get(request.fingerprint);
    if (!current || signal.occurredAt.getTime() >= current.lastSeenAt.getTime())
      latest.set(request.fingerprint, state);
    if (signal.kind === 'chaos') {
      const key = serviceKey(request.service);
      const last = chaos.get(key);
      if (!last || signal.occurredAt.getTime() >= last.at.getTime()) {
        const experimentId = signal.attributes.chaosExperimentId;
        chaos.set(key, {
          experimentId: typeof experimentId === 'string' ? experimentId : null,
          at: signal.occurredAt,
        });
      }
    }
  };

  const summary = ({ signal }: IngestRequest) => ({
    signalId: signal.id,
    kind: signal.kind,
    name: signal.name,
    classification: signal.classification,
    reason: signal.reason,
  });

  const results = requests.map((request): BatchResult => {
    const { signal } = request;
    if (seen.has(signal.id)) return { applied: { kind: 'redelivery' }, pending: [] };
    seen.add(signal.id);
    const key = serviceKey(request.service);
    const open = live.get(key) ?? null;
    const same = latest.get(request.fingerprint) ?? null;
    const last = chaos.get(key);
    const decision = request.decide({
      sameFingerprint: same
        ? { signalId: same.id, lastSeenAt: same.lastSeenAt, incidentId: same.incidentId }
        : null,
      openIncident: open,
      lastChaos: last?.experimentId ? { experimentId: last.experimentId, at: last.at } : null,
    });
    const at = signal.occurredAt;
    let applied: Applied;
    switch (decision.kind) {
      case 'repeat': {
        const target = same?.id === decision.signalId ? same : null;
        if (!target)
          throw new Error(`repeat of ${decision.signalId}, which is not the fingerprint's latest signal`);
        target.occurrences += 1;
        target.lastSeenAt = later(target.lastSeenAt, at);
        if (!newSignals.has(target.id)) {
          const row = repeated.get(target.id) ?? { id: target.id, added: 0, lastSeenAt: at };
          row.added += 1;
          row.lastSeenAt = later(row.lastSeenAt, at);
          repeated.set(target.id, row);
        }
        writes.repeatLedger.push({ eventId: signal.id, signalId: target.id });
        applied = {
          kind: 'repeat',
          signalId: target.id,
          incidentId: decision.incidentId,
          occurrences: target.occurrences,
        };
        break;
      }
      case 'open': {
        const incident: LiveIncident = {
          id: newIncidentId(),
          service: request.service,
          state: 'open',
          version: 1,
          title: `${signal.name} on ${request.service.cluster}/${request.service.service}`,
          fingerprint: request.fingerprint,
          openedAt: at,
          lastSignalAt: at,
          lastFaultAt: at,
          recoverySeenAt: null,
          signalCount: 1,
          chaosExperimentId: decision.chaosExperimentId,
          serviceSnapshot: request.snapshot,
        };
        live.set(key, incident);
        created.set(incident.id, incident);
        recordSignal(request, incident.id, null);
        writes.timeline.push(
          {
            incidentId: incident.id,
            at,
            kind: 'opened',
            detail: {
              signalId: signal.id,
              fingerprint: request.fingerprint,
              chaosExperimentId: decision.chaosExperimentId,
            },
          },
          { incidentId: incident.id, at, kind: 'signal', detail: summary(request) },
        );
        applied = { kind: 'opened', incident: recordOf(incident) };
        break;
      }
      case 'attach': {
        if (!open || open.id !== decision.incidentId || open.version !== decision.expectedVersion)
          throw new Error(`attach to ${decision.incidentId}, which is not the service's live incident`);
        if (!created.has(open.id) && !updated.has(open.id))
          updated.set(open.id, { incident: open, expectedVersion: open.version });
        open.signalCount += 1;
        open.lastSignalAt = later(open.lastSignalAt, at);
        if (decision.recovery)
          open.recoverySeenAt = open.recoverySeenAt ? later(open.recoverySeenAt, at) : at;
        else open.lastFaultAt = open.lastFaultAt ? later(open.lastFaultAt, at) : at;
        open.version += 1;
        recordSignal(request, open.id, null);
        writes.timeline.push({ incidentId: open.id, at, kind: 'signal', detail: summary(request) });
        applied = { kind: 'attached', incident: recordOf(open), recovery: decision.recovery };
        break;
      }
      case 'suppress':
        recordSignal(request, null, decision.reason);
        applied = { kind: 'suppressed', reason: decision.reason };
        break;
    }
    const pending = request.announce(applied);
    for (const envelope of pending) writes.outbox.push({ causationId: signal.id, envelope });
    return { applied, pending };
  });

  writes.newIncidents = [...created.values()];
  writes.updatedIncidents = [...updated.values()];
  writes.newSignals = [...newSignals.values()];
  writes.repeatedSignals = [...repeated.values()];
  return { results, writes };
}
