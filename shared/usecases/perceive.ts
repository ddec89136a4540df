import { InvalidEventError } from '../domain/errors.ts';
import { fingerprintOf, symptomKey } from '../domain/fingerprint.ts';
import { type CorrelationSettings, decide, defaultCorrelationSettings } from '../domain/incident.ts';
import type {
  AlarmTagReader,
  Applied,
  Clock,
  Counters,
  EcsServiceReader,
  EventPublisher,
  IngestRequest,
  IngestResult,
  PerceptionStore,
} from '../domain/ports.ts';
import { type ServiceRef, type Signal, toSignal } from '../domain/signal.ts';
import { provesSteady, steadyRevisionAt } from '../domain/steady-revision.ts';
import type {
  IncidentOpenedData,
  IncidentResolvedData,
  IncidentUpdatedData,
  SignalReceivedData,
} from '../events/catalog.ts';
import { detailTypes } from '../events/detail-types.ts';
import { buildEnvelope, type Envelope } from '../events/envelope.ts';
import { parseInbound } from '../events/inbound.ts';

export interface PerceiveDeps {
  store: PerceptionStore;
  ecs: EcsServiceReader;
  alarmTags: AlarmTagReader;
  bus: EventPublisher;
  counters: Counters;
  clock: Clock;
  settings?: CorrelationSettings;
}

export type PerceiveResult =
  | { outcome: 'ignored'; reason: 'unknown_detail_type'; detailType: string; source: string }
  | {
      outcome: 'ignored';
      reason: 'unresolved_service' | 'not_watched';
      signal: Signal;
      service: ServiceRef | null;
    }
  | {
      outcome: Applied['kind'];
      signal: Signal;
      service: ServiceRef;
      fingerprint: string;
      incidentId: string | null;
      published: Envelope[];
      /** The revision recorded as steady at the signal's time (SERVICE_STEADY_STATE, a completed deployment). */
      steadyRevision?: string;
    };

const source = 'homeostat.perceive';

/**
 * The service a signal concerns: from the event itself, else from the alarm's
 * homeostat:cluster / homeostat:service tags, else from the registry's alarm prefixes.
 */
export async function resolveService(
  signal: Signal,
  deps: Pick<PerceiveDeps, 'alarmTags' | 'store'>,
): Promise<ServiceRef | null> {
  if (signal.service) return signal.service;
  if (signal.kind !== 'alarm') return null;
  const alarmArn = signal.attributes.alarmArn;
  if (typeof alarmArn === 'string' && alarmArn) {
    const tags = await deps.alarmTags.tagsOf(alarmArn);
    const cluster = tags['homeostat:cluster'];
    const service = tags['homeostat:service'];
    if (cluster && service) return { cluster, service };
  }
  return deps.store.serviceForAlarmName(signal.name);
}

/** The events announcing what recording a signal did (none for repeats). */
export function announce(
  signal: Signal,
  service: ServiceRef,
  fingerprint: string,
  applied: Applied,
  now: Date,
): Envelope[] {
  if (applied.kind === 'redelivery' || applied.kind === 'repeat') return [];
  const incident = applied.kind === 'opened' || applied.kind === 'attached' ? applied.incident : null;
  const common = {
    source,
    time: now,
    causationId: signal.id,
    correlationId: incident?.id ?? signal.id,
    incidentId: incident?.id ?? null,
  };
  const envelopes: Envelope[] = [
    buildEnvelope<SignalReceivedData>({
      ...common,
      type: detailTypes.signalReceived,
      data: {
        signalId: signal.id,
        kind: signal.kind,
        classification: signal.classification,
        name: signal.name,
        state: signal.state,
        previousState: signal.previousState,
        reason: signal.reason,
        occurredAt: signal.occurredAt.toISOString(),
        service,
        fingerprint,
        incidentId: incident?.id ?? null,
        attributes: signal.attributes,
      },
    }),
  ];
  if (applied.kind === 'opened') {
    envelopes.push(
      buildEnvelope<IncidentOpenedData>({
        ...common,
        type: detailTypes.incidentOpened,
        data: {
          incidentId: applied.incident.id,
          service,
          title: applied.incident.title,
          fingerprint,
          firstSignalId: signal.id,
          openedAt: applied.incident.openedAt.toISOString(),
          chaosExperimentId: applied.incident.chaosExperimentId,
          serviceSnapshot: applied.incident.serviceSnapshot,
        },
      }),
    );
  } else if (applied.kind === 'attached') {
    envelopes.push(
      buildEnvelope<IncidentUpdatedData>({
        ...common,
        type: detailTypes.incidentUpdated,
        data: {
          incidentId: applied.incident.id,
          service,
          state: applied.incident.state,
          signalId: signal.id,
          classification: signal.classification,
          signalCount: applied.incident.signalCount,
        },
      }),
    );
  }
  return envelopes;
}

async function publishAll(envelopes: Envelope[], deps: Pick<PerceiveDeps, 'bus' | 'store'>): Promise<void> {
  if (envelopes.length === 0) return;
  await deps.bus.publish(envelopes);
  await deps.store.markPublished(envelopes.map((e) => e.id));
}

/** One event of a batch: what perception made of it, or why it was rejected. */
export type BatchItem = { ok: true; result: PerceiveResult } | { ok: false; error: InvalidEventError };

type Prepared =
  | { done: BatchItem }
  | {
      request: IngestRequest;
      signal: Signal;
      service: ServiceRef;
      fingerprint: string;
      steadyRevision: string | null;
    };

/**
 * The revision a watched service ran steadily when ECS said so (steadyRevisionAt), read
 * from the service's deployments because the events do not name the task definition.
 * Null for every other signal, and when ECS no longer lists what ran then.
 */
async function steadyRevisionOf(signal: Signal, service: ServiceRef, deps: PerceiveDeps) {
  if (!provesSteady(signal)) return null;
  const deployments = await deps.ecs.deployments(service);
  return deployments ? steadyRevisionAt(signal, deployments) : null;
}

async function prepare(event: unknown, deps: PerceiveDeps, now: Date): Promise<Prepared> {
  let parsed: ReturnType<typeof parseInbound>;
  try {
    parsed = parseInbound(event);
  } catch (error) {
    if (error instanceof InvalidEventError) return { done: { ok: false, error } };
    throw error;
  }
  if (parsed.status === 'unknown') {
    deps.counters.increment('EventsIgnored', { reason: 'unknown_detail_type' });
    const { detailType, source } = parsed;
    return {
      done: { ok: true, result: { outcome: 'ignored', reason: 'unknown_detail_type', detailType, source } },
    };
  }
  const signal = toSignal(parsed.inbound, event);
  const service = await resolveService(signal, deps);
  if (!service) {
    deps.counters.increment('EventsIgnored', { reason: 'unresolved_service' });
    return {
      done: { ok: true, result: { outcome: 'ignored', reason: 'unresolved_service', signal, service: null } },
    };
  }
  if (!(await deps.store.watchedService(service))) {
    deps.counters.increment('EventsIgnored', { reason: 'not_watched' });
    return { done: { ok: true, result: { outcome: 'ignored', reason: 'not_watched', signal, service } } };
  }
  const settings = deps.settings ?? defaultCorrelationSettings;
  const fingerprint = fingerprintOf(service, symptomKey(signal));
  // Only a fault can open an incident, and the snapshot is kept with it.
  const snapshot = signal.classification === 'fault' ? await deps.ecs.describeService(service) : null;
  return {
    signal,
    service,
    fingerprint,
    steadyRevision: await steadyRevisionOf(signal, service, deps),
    request: {
      signal,
      service,
      fingerprint,
      snapshot,
      decide: (context) => decide({ ...signal, service }, context, settings, now),
      announce: (applied) => announce(signal, service, fingerprint, applied, now),
    },
  };
}

/**
 * A batch of inbound events → per event at most one signal → joined to the
 * service's live incident, a new incident, a counted repeat, or a recorded
 * suppression. The batch is written in one transaction together with the
 * events that announce it (outbox), then published; a redelivery publishes
 * what is left. ECS's steady-state and deployment-completed events for a
 * watched service also record the revision it ran then as steady (the last
 * known good a rollback returns to). A malformed event is rejected on its own
 * and does not hold up the rest; a failure of the store or the bus fails the
 * whole batch.
 */
export async function perceiveBatch(events: readonly unknown[], deps: PerceiveDeps): Promise<BatchItem[]> {
  const now = deps.clock.now();
  const prepared: Prepared[] = [];
  for (const event of events) prepared.push(await prepare(event, deps, now));
  const toRecord = prepared.filter((p) => 'request' in p);
  const recorded = await deps.store.ingestBatch(toRecord.map((p) => p.request));
  // Last known good from ECS itself, so a fresh install has a rollback target (idempotent on redelivery).
  for (const p of toRecord) {
    if (!p.steadyRevision) continue;
    await deps.store.recordSteady(p.service, p.steadyRevision, p.signal.occurredAt);
    deps.counters.increment('SteadyRevisionsRecorded', {});
  }
  await publishAll(
    recorded.flatMap((r) => r.pending),
    deps,
  );
  let next = 0;
  return prepared.map((p): BatchItem => {
    if ('done' in p) return p.done;
    const { applied, pending } = recorded[next++] as IngestResult;
    deps.counters.increment('Signals', { outcome: applied.kind });
    const incidentId =
      applied.kind === 'opened' || applied.kind === 'attached'
        ? applied.incident.id
        : applied.kind === 'repeat'
          ? applied.incidentId
          : null;
    return {
      ok: true,
      result: {
        outcome: applied.kind,
        signal: p.signal,
        service: p.service,
        fingerprint: p.fingerprint,
        incidentId,
        published: pending,
        ...(p.steadyRevision ? { steadyRevision: p.steadyRevision } : {}),
      },
    };
  });
}

/** One inbound event (see perceiveBatch); a malformed event throws InvalidEventError. */
export async function perceive(event: unknown, deps: PerceiveDeps): Promise<PerceiveResult> {
  const [item] = await perceiveBatch([event], deps);
  if (!item) throw new Error('perceiveBatch returned no result for one event');
  if (!item.ok) throw item.error;
  return item.result;
}

/** Self-resolves incidents that recovered and stayed quiet, and announces them. */
export async function sweepQuietIncidents(
  deps: Pick<PerceiveDeps, 'store' | 'bus' | 'clock' | 'settings' | 'counters'>,
): Promise<Envelope[]> {
  const now = deps.clock.now();
  const envelopes = await deps.store.selfResolveDue(
    now,
    deps.settings ?? defaultCorrelationSettings,
    (incident) =>
      buildEnvelope<IncidentResolvedData>({
        type: detailTypes.incidentResolved,
        source,
        time: now,
        incidentId: incident.id,
        correlationId: incident.id,
        causationId: `self-resolution:${incident.id}`,
        data: {
          incidentId: incident.id,
          service: incident.service,
          resolution: 'self_resolved',
          resolvedAt: now.toISOString(),
          openedAt: incident.openedAt.toISOString(),
        },
      }),
  );
  await publishAll(envelopes, deps);
  for (const _ of envelopes) deps.counters.increment('IncidentsSelfResolved', {});
  return envelopes;
}
