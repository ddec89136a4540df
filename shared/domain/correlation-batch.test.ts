import { describe, expect, it } from 'vitest';
import { applyBatch, type BatchHistory, emptyHistory, type LiveIncident } from './correlation-batch.ts';
import { decide, defaultCorrelationSettings } from './incident.ts';
import type { IngestRequest } from './ports.ts';
import type { Classification, Signal, SignalKind } from './signal.ts';

const t0 = Date.parse('2026-11-20T10:00:00Z');
const at = (minute: number) => new Date(t0 + minute * 60_000);
const service = { cluster: 'shop', service: 'api' };
const now = at(60);

function request(
  id: string,
  minute: number,
  classification: Classification,
  fingerprint: string,
  kind: SignalKind = 'alarm',
  attributes: Signal['attributes'] = {},
): IngestRequest {
  const signal: Signal = {
    id,
    kind,
    name: fingerprint,
    classification,
    state: classification === 'recovery' ? 'OK' : 'ALARM',
    previousState: null,
    reason: '',
    occurredAt: at(minute),
    service,
    attributes,
    raw: {},
  };
  return {
    signal,
    service,
    fingerprint,
    snapshot: null,
    decide: (context) => decide({ ...signal, service }, context, defaultCorrelationSettings, now),
    announce: (applied) => [
      {
        id: `env-${id}`,
        type: applied.kind,
        source: 'test',
        time: now.toISOString(),
        incidentId: null,
        correlationId: id,
        causationId: id,
        data: {},
      },
    ],
  };
}

const empty = emptyHistory();

let ids = 0;
const newId = () => `incident-${++ids}`;

describe('applyBatch', () => {
  it('lets each signal see what the earlier ones in the batch did', () => {
    const { results, writes } = applyBatch(
      [
        request('chaos', 0, 'benign', 'marker', 'chaos', { chaosExperimentId: 'exp-1' }),
        request('a1', 1, 'fault', 'cpu'),
        request('a2', 2, 'fault', 'cpu'),
        request('t1', 2, 'fault', 'oom', 'task_stopped'),
        request('a1', 3, 'fault', 'cpu'),
      ],
      empty,
      newId,
    );
    expect(results.map((r) => r.applied.kind)).toEqual([
      'suppressed',
      'opened',
      'repeat',
      'attached',
      'redelivery',
    ]);
    expect(results[2]?.applied).toMatchObject({ signalId: 'a1', occurrences: 2 });
    // The batch's own repeat is folded into the new signal's row, not written as an update.
    expect(writes.newSignals.map((s) => [s.request.signal.id, s.state.occurrences])).toEqual([
      ['chaos', 1],
      ['a1', 2],
      ['t1', 1],
    ]);
    expect(writes.repeatedSignals).toEqual([]);
    expect(writes.repeatLedger).toEqual([{ eventId: 'a2', signalId: 'a1' }]);
    expect(writes.newIncidents).toMatchObject([
      { signalCount: 2, version: 2, chaosExperimentId: 'exp-1', lastFaultAt: at(2) },
    ]);
    expect(writes.updatedIncidents).toEqual([]);
    expect(writes.timeline.map((t) => t.kind)).toEqual(['opened', 'signal', 'signal']);
    // A redelivery inside the batch announces nothing; its first delivery did.
    expect(results[4]?.pending).toEqual([]);
    expect(writes.outbox.map((o) => o.causationId)).toEqual(['chaos', 'a1', 'a2', 't1']);
  });

  it('updates an incident read before the batch once, guarded by the version it was read at', () => {
    const live: LiveIncident = {
      id: 'inc-1',
      service,
      state: 'diagnosing',
      version: 4,
      title: 'cpu',
      fingerprint: 'cpu',
      openedAt: at(0),
      lastSignalAt: at(0),
      lastFaultAt: at(0),
      recoverySeenAt: null,
      signalCount: 3,
      chaosExperimentId: null,
      serviceSnapshot: null,
    };
    const history: BatchHistory = {
      ...empty,
      seenEventIds: new Set(['old']),
      latestByFingerprint: new Map([
        ['cpu', { id: 'old', lastSeenAt: at(0), incidentId: 'inc-1', occurrences: 5 }],
      ]),
      liveIncidents: new Map([['shop/api', live]]),
    };
    const { results, writes } = applyBatch(
      [
        request('old', 0, 'fault', 'cpu'),
        request('r1', 1, 'fault', 'cpu'),
        request('ok', 2, 'recovery', 'cpu-ok'),
        request('m', 3, 'fault', 'mem'),
      ],
      history,
      newId,
    );
    expect(results.map((r) => r.applied.kind)).toEqual(['redelivery', 'repeat', 'attached', 'attached']);
    expect(results[1]?.applied).toMatchObject({ occurrences: 6, incidentId: 'inc-1' });
    expect(writes.repeatedSignals).toEqual([{ id: 'old', added: 1, lastSeenAt: at(1) }]);
    expect(writes.updatedIncidents).toEqual([
      {
        expectedVersion: 4,
        incident: expect.objectContaining({
          version: 6,
          signalCount: 5,
          recoverySeenAt: at(2),
          lastFaultAt: at(3),
        }),
      },
    ]);
    // The caller's history is left as it was read.
    expect(live).toMatchObject({ version: 4, signalCount: 3 });
    expect(history.latestByFingerprint.get('cpu')?.occurrences).toBe(5);
  });
});
