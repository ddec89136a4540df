import { randomUUID } from 'node:crypto';
import {
  applyBatch,
  type BatchHistory,
  type BatchWrites,
  type LiveIncident,
  serviceKey,
} from '../domain/correlation-batch.ts';
import { HomeostatError } from '../domain/errors.ts';
import {
  assertTransition,
  type CorrelationSettings,
  type IncidentState,
  isSelfResolutionDue,
  isTerminal,
  type OpenIncidentView,
  terminalStates,
} from '../domain/incident.ts';
import type {
  IncidentRecord,
  IngestRequest,
  IngestResult,
  PerceptionStore,
  WatchedServiceRecord,
} from '../domain/ports.ts';
import type { RetryOptions } from '../domain/retry.ts';
import type { ServiceRef } from '../domain/signal.ts';
import type { Envelope } from '../events/envelope.ts';
import { isTransientDatabaseError, type Pool, type PoolClient, withTransaction } from './database.ts';
import { type IncidentRow, toRecord, writeOutbox, writeTimeline } from './incident-rows.ts';
import { recordSteadyRevision } from './steady-revisions.ts';

/**
 * What a deploy declares about a watched service: the columns the migrator owns.
 * Maintenance tasks are the deploy's when it declares them (WatchedService
 * `maintenanceTasks`); left out, the registry keeps what it holds.
 */
export type DeployedServiceRegistration = Pick<
  WatchedServiceRecord,
  'cluster' | 'service' | 'alarmPrefixes' | 'minTasks' | 'maxTasks' | 'maintenanceTasks'
>;

/** Another WatchedService (another stack or app) already declares the service. */
export class RegistrationConflictError extends HomeostatError {
  override readonly name = 'RegistrationConflictError';
}

/** Another writer changed the incident (or opened one) first; the transaction is retried on fresh data. */
export class ConcurrencyConflictError extends HomeostatError {
  override readonly name = 'ConcurrencyConflictError';
}

const isConflict = (error: unknown) =>
  error instanceof ConcurrencyConflictError ||
  // Two writers opening the first incident of a service (the partial unique index lets one win),
  // or recording the same delivery at once (the ledger lets one win; the retry finds it seen).
  ((error as { code?: string } | null)?.code === '23505' &&
    /incidents_one_live_per_service|signals_pkey|signal_events_pkey/.test(
      (error as Error).message + String((error as { constraint?: string }).constraint),
    ));

const terminal = terminalStates.map((s) => `'${s}'`).join(', ');

const toLive = (r: IncidentRow): LiveIncident => ({
  ...toRecord(r),
  lastFaultAt: r.last_fault_at ? new Date(r.last_fault_at) : null,
  recoverySeenAt: r.recovery_seen_at ? new Date(r.recovery_seen_at) : null,
});

const toView = (r: IncidentRow): OpenIncidentView => ({
  id: r.id,
  state: r.state,
  version: r.version,
  lastSignalAt: new Date(r.last_signal_at),
  lastFaultAt: r.last_fault_at ? new Date(r.last_fault_at) : null,
  recoverySeenAt: r.recovery_seen_at ? new Date(r.recovery_seen_at) : null,
});

export class PostgresPerceptionStore implements PerceptionStore {
  /** Registry reads are cached briefly: it changes on deploys, signals arrive in storms. */
  private readonly watchedCache = new Map<string, { value: WatchedServiceRecord | null; until: number }>();

  constructor(
    private readonly pool: Pool,
    private readonly retry: RetryOptions = {},
    private readonly registryTtlMs = 30_000,
  ) {}

  private transaction<T>(work: (client: PoolClient) => Promise<T>): Promise<T> {
    return withTransaction(this.pool, work, {
      attempts: 6,
      ...this.retry,
      retryable: (e) => isTransientDatabaseError(e) || isConflict(e),
    });
  }

  async watchedService(ref: ServiceRef): Promise<WatchedServiceRecord | null> {
    const key = `${ref.cluster}/${ref.service}`;
    const hit = this.watchedCache.get(key);
    if (hit && hit.until > Date.now()) return hit.value;
    const value = await this.readWatchedService(ref);
    this.watchedCache.set(key, { value, until: Date.now() + this.registryTtlMs });
    return value;
  }

  private async readWatchedService(ref: ServiceRef): Promise<WatchedServiceRecord | null> {
    const { rows } = await this.pool.query(
      `SELECT cluster, service, alarm_prefixes, allowed_actions, min_tasks, max_tasks, autonomy, fallback,
              maintenance_tasks, secrets
         FROM watched_services WHERE cluster = $1 AND service = $2`,
      [ref.cluster, ref.service],
    );
    const row = rows[0];
    if (!row) return null;
    return {
      cluster: row.cluster,
      service: row.service,
      alarmPrefixes: row.alarm_prefixes,
      allowedActions: row.allowed_actions,
      minTasks: row.min_tasks,
      maxTasks: row.max_tasks,
      autonomy: row.autonomy,
      fallback: row.fallback,
      maintenanceTasks: row.maintenance_tasks,
      secrets: row.secrets,
    };
  }

  async serviceForAlarmName(alarmName: string): Promise<ServiceRef | null> {
    const { rows } = await this.pool.query(
      `SELECT cluster, service, max(length(p)) AS len
         FROM watched_services, unnest(alarm_prefixes) AS p
        WHERE p <> '' AND starts_with($1, p)
        GROUP BY cluster, service
        ORDER BY len DESC LIMIT 1`,
      [alarmName],
    );
    return rows[0] ? { cluster: rows[0].cluster, service: rows[0].service } : null;
  }

  async ingestBatch(requests: readonly IngestRequest[]): Promise<IngestResult[]> {
    if (requests.length === 0) return [];
    return this.transaction(async (client) => {
      const history = await this.history(client, requests);
      const { results, writes } = applyBatch(requests, history, randomUUID);
      await this.write(client, writes);
      const redelivered = requests
        .filter((r, i) => results[i]?.applied.kind === 'redelivery' && history.seenEventIds.has(r.signal.id))
        .map((r) => r.signal.id);
      if (redelivered.length === 0) return results;
      // What an earlier, interrupted attempt left unpublished is this delivery's to publish.
      const pending = await client.query(
        'SELECT causation_id, envelope FROM outbox WHERE causation_id = ANY($1) AND published_at IS NULL ORDER BY seq',
        [redelivered],
      );
      const byCause = new Map<string, Envelope[]>();
      for (const r of pending.rows)
        byCause.set(r.causation_id, [...(byCause.get(r.causation_id) ?? []), r.envelope]);
      const claimed = new Set<string>();
      return results.map((result, i) => {
        const id = requests[i]?.signal.id ?? '';
        if (result.applied.kind !== 'redelivery' || claimed.has(id)) return result;
        claimed.add(id);
        return { ...result, pending: byCause.get(id) ?? [] };
      });
    });
  }

  /**
   * The batch's history in one round trip: which event ids were delivered
   * before, the latest signal of each fingerprint, and each service's live
   * incident and latest chaos marker.
   */
  private async history(client: PoolClient, requests: readonly IngestRequest[]): Promise<BatchHistory> {
    const services = [...new Map(requests.map((r) => [serviceKey(r.service), r.service])).values()];
    const { rows } = await client.query(
      `WITH svc AS (SELECT * FROM unnest($3::text[], $4::text[]) AS t(cluster, service))
       SELECT
         (SELECT coalesce(json_agg(event_id), '[]') FROM signal_events WHERE event_id = ANY($1)) AS seen,
         (SELECT coalesce(json_agg(s), '[]') FROM unnest($2::text[]) AS f(fp) CROSS JOIN LATERAL (
            SELECT id, fingerprint, last_seen_at, incident_id, occurrences FROM signals
             WHERE fingerprint = f.fp ORDER BY last_seen_at DESC LIMIT 1) s) AS same,
         (SELECT coalesce(json_agg(i), '[]') FROM svc CROSS JOIN LATERAL (
            SELECT * FROM incidents i
             WHERE i.cluster = svc.cluster AND i.service = svc.service AND state NOT IN (${terminal}) LIMIT 1) i) AS open,
         (SELECT coalesce(json_agg(c), '[]') FROM svc CROSS JOIN LATERAL (
            SELECT cluster, service, attributes->>'chaosExperimentId' AS experiment_id, occurred_at FROM signals s
             WHERE kind = 'chaos' AND s.cluster = svc.cluster AND s.service = svc.service
             ORDER BY occurred_at DESC LIMIT 1) c) AS chaos`,
      [
        requests.map((r) => r.signal.id),
        [...new Set(requests.map((r) => r.fingerprint))],
        services.map((s) => s.cluster),
        services.map((s) => s.service),
      ],
    );
    const row = rows[0] ?? {};
    type Same = {
      id: string;
      fingerprint: string;
      last_seen_at: string;
      incident_id: string | null;
      occurrences: number;
    };
    type Chaos = { cluster: string; service: string; experiment_id: string | null; occurred_at: string };
    return {
      seenEventIds: new Set(row.seen as string[]),
      latestByFingerprint: new Map(
        (row.same as Same[]).map((s) => [
          s.fingerprint,
          {
            id: s.id,
            lastSeenAt: new Date(s.last_seen_at),
            incidentId: s.incident_id,
            occurrences: s.occurrences,
          },
        ]),
      ),
      liveIncidents: new Map(
        (row.open as IncidentRow[]).map((i) => [
          serviceKey({ cluster: i.cluster, service: i.service }),
          toLive(i),
        ]),
      ),
      lastChaos: new Map(
        (row.chaos as Chaos[]).map((c) => [
          serviceKey(c),
          { experimentId: c.experiment_id, at: new Date(c.occurred_at) },
        ]),
      ),
    };
  }

  /**
   * Writes a batch with one statement per table. An incident that changed
   * since it was read (its version moved) aborts the transaction, which is
   * then retried on fresh history.
   */
  private async write(client: PoolClient, writes: BatchWrites): Promise<void> {
    const json = (rows: unknown[]) => JSON.stringify(rows);
    const iso = (d: Date | null) => d?.toISOString() ?? null;
    const incidentColumns = (i: LiveIncident) => ({
      id: i.id,
      version: i.version,
      last_signal_at: iso(i.lastSignalAt),
      last_fault_at: iso(i.lastFaultAt),
      recovery_seen_at: iso(i.recoverySeenAt),
      signal_count: i.signalCount,
    });
    if (writes.newIncidents.length > 0) {
      await client.query(
        `INSERT INTO incidents (id, cluster, service, title, fingerprint, opened_at, updated_at, last_signal_at,
                                last_fault_at, recovery_seen_at, signal_count, version, chaos_experiment_id, service_snapshot)
         SELECT id, cluster, service, title, fingerprint, opened_at, now(), last_signal_at,
                last_fault_at, recovery_seen_at, signal_count, version, chaos_experiment_id, service_snapshot
           FROM jsonb_to_recordset($1::jsonb) AS t(id uuid, cluster text, service text, title text, fingerprint text,
                opened_at timestamptz, last_signal_at timestamptz, last_fault_at timestamptz,
                recovery_seen_at timestamptz, signal_count int, version int, chaos_experiment_id text,
                service_snapshot jsonb)`,
        [
          json(
            writes.newIncidents.map((i) => ({
              ...incidentColumns(i),
              cluster: i.service.cluster,
              service: i.service.service,
              title: i.title,
              fingerprint: i.fingerprint,
              opened_at: iso(i.openedAt),
              chaos_experiment_id: i.chaosExperimentId,
              service_snapshot: i.serviceSnapshot,
            })),
          ),
        ],
      );
    }
    if (writes.updatedIncidents.length > 0) {
      const { rowCount } = await client.query(
        `UPDATE incidents i
            SET signal_count = t.signal_count, last_signal_at = t.last_signal_at, last_fault_at = t.last_fault_at,
                recovery_seen_at = t.recovery_seen_at, version = t.version, updated_at = now()
           FROM jsonb_to_recordset($1::jsonb) AS t(id uuid, expected_version int, version int, signal_count int,
                last_signal_at timestamptz, last_fault_at timestamptz, recovery_seen_at timestamptz)
          WHERE i.id = t.id AND i.version = t.expected_version`,
        [
          json(
            writes.updatedIncidents.map(({ incident, expectedVersion }) => ({
              ...incidentColumns(incident),
              expected_version: expectedVersion,
            })),
          ),
        ],
      );
      if (rowCount !== writes.updatedIncidents.length)
        throw new ConcurrencyConflictError('an incident changed since the batch read it');
    }
    if (writes.newSignals.length > 0) {
      await client.query(
        `WITH inserted AS (
           INSERT INTO signals (id, kind, name, state, previous_state, reason, occurred_at, last_seen_at, occurrences,
                                cluster, service, service_snapshot, raw, classification, fingerprint, attributes,
                                incident_id, suppressed_reason)
           SELECT id, kind, name, state, previous_state, reason, occurred_at, last_seen_at, occurrences,
                  cluster, service, service_snapshot, raw, classification, fingerprint, attributes,
                  incident_id, suppressed_reason
             FROM jsonb_to_recordset($1::jsonb) AS t(id text, kind text, name text, state text, previous_state text,
                  reason text, occurred_at timestamptz, last_seen_at timestamptz, occurrences int, cluster text,
                  service text, service_snapshot jsonb, raw jsonb, classification text, fingerprint text,
                  attributes jsonb, incident_id uuid, suppressed_reason text)
           RETURNING id)
         INSERT INTO signal_events (event_id, signal_id) SELECT id, id FROM inserted`,
        [
          json(
            writes.newSignals.map(({ request, incidentId, suppressedReason, state }) => ({
              id: request.signal.id,
              kind: request.signal.kind,
              name: request.signal.name,
              state: request.signal.state,
              previous_state: request.signal.previousState,
              reason: request.signal.reason,
              occurred_at: iso(request.signal.occurredAt),
              last_seen_at: iso(state.lastSeenAt),
              occurrences: state.occurrences,
              cluster: request.service.cluster,
              service: request.service.service,
              service_snapshot: request.snapshot,
              raw: request.signal.raw,
              classification: request.signal.classification,
              fingerprint: request.fingerprint,
              attributes: request.signal.attributes,
              incident_id: incidentId,
              suppressed_reason: suppressedReason,
            })),
          ),
        ],
      );
    }
    if (writes.repeatedSignals.length > 0) {
      await client.query(
        `UPDATE signals s SET occurrences = s.occurrences + t.added, last_seen_at = greatest(s.last_seen_at, t.last_seen_at)
           FROM jsonb_to_recordset($1::jsonb) AS t(id text, added int, last_seen_at timestamptz)
          WHERE s.id = t.id`,
        [
          json(
            writes.repeatedSignals.map((r) => ({
              id: r.id,
              added: r.added,
              last_seen_at: iso(r.lastSeenAt),
            })),
          ),
        ],
      );
    }
    if (writes.repeatLedger.length > 0) {
      await client.query(
        `INSERT INTO signal_events (event_id, signal_id)
         SELECT event_id, signal_id FROM jsonb_to_recordset($1::jsonb) AS t(event_id text, signal_id text)`,
        [json(writes.repeatLedger.map((r) => ({ event_id: r.eventId, signal_id: r.signalId })))],
      );
    }
    await writeTimeline(client, writes.timeline);
    await writeOutbox(client, writes.outbox);
  }

  async transition(
    incidentId: string,
    expectedVersion: number,
    to: IncidentState,
    detail: object = {},
  ): Promise<IncidentRecord> {
    return withTransaction(this.pool, async (client) => {
      const current = await client.query<IncidentRow>('SELECT * FROM incidents WHERE id = $1', [incidentId]);
      const row = current.rows[0];
      if (!row) throw new HomeostatError(`no incident ${incidentId}`);
      const moved =
        row.version === expectedVersion
          ? await this.move(client, row, expectedVersion, to, new Date(), `state:${to}`, detail)
          : null;
      if (!moved) {
        throw new ConcurrencyConflictError(
          `incident ${incidentId} is at version ${row.version}, not ${expectedVersion}`,
        );
      }
      return moved;
    });
  }

  /**
   * Moves an incident the caller read at `expectedVersion` to `to`, if the state
   * machine allows it, and records the move on the timeline. Returns null when
   * another writer changed the incident since.
   */
  private async move(
    client: PoolClient,
    row: IncidentRow,
    expectedVersion: number,
    to: IncidentState,
    at: Date,
    timelineKind: string,
    detail: object,
  ): Promise<IncidentRecord | null> {
    assertTransition(row.state, to);
    const { rows } = await client.query<IncidentRow>(
      `UPDATE incidents SET state = $2, version = version + 1, updated_at = now(),
              closed_at = CASE WHEN $3 THEN $5 ELSE closed_at END
        WHERE id = $1 AND version = $4 RETURNING *`,
      [row.id, to, isTerminal(to), expectedVersion, at.toISOString()],
    );
    const updated = rows[0];
    if (!updated) return null;
    await writeTimeline(client, [
      { incidentId: row.id, at, kind: timelineKind, detail: { from: row.state, ...detail } },
    ]);
    return toRecord(updated);
  }

  async recordSteady(ref: ServiceRef, taskDefinition: string, at: Date): Promise<void> {
    await recordSteadyRevision(this.pool, ref, taskDefinition, at);
  }

  async markPublished(envelopeIds: string[]): Promise<void> {
    await this.pool.query(
      'UPDATE outbox SET published_at = now() WHERE id = ANY($1) AND published_at IS NULL',
      [envelopeIds],
    );
  }

  async selfResolveDue(
    now: Date,
    settings: CorrelationSettings,
    announce: (incident: IncidentRecord) => Envelope,
  ): Promise<Envelope[]> {
    const cutoff = new Date(now.getTime() - settings.quietPeriodMs).toISOString();
    const { rows } = await this.pool.query<IncidentRow>(
      `SELECT * FROM incidents WHERE state NOT IN (${terminal}) AND recovery_seen_at IS NOT NULL AND recovery_seen_at <= $1`,
      [cutoff],
    );
    const envelopes: Envelope[] = [];
    for (const candidate of rows) {
      if (!isSelfResolutionDue(toView(candidate), settings, now)) continue;
      const envelope = await this.transaction(async (client) => {
        const moved = await this.move(
          client,
          candidate,
          candidate.version,
          'self_resolved',
          now,
          'self_resolved',
          {
            quietSinceRecovery: candidate.recovery_seen_at,
          },
        );
        // Changed meanwhile (a new fault, an action): not ours to close any more.
        if (!moved) return null;
        const env = announce(moved);
        await writeOutbox(client, [{ causationId: env.causationId ?? moved.id, envelope: env }]);
        return env;
      });
      if (envelope) envelopes.push(envelope);
    }
    return envelopes;
  }

  /** Adds or updates a watched service with every column (tests, the demo, the scenario runner). */
  async registerService(record: WatchedServiceRecord): Promise<void> {
    this.watchedCache.delete(`${record.cluster}/${record.service}`);
    await this.pool.query(
      `INSERT INTO watched_services (cluster, service, alarm_prefixes, allowed_actions, min_tasks, max_tasks,
                                     autonomy, fallback, maintenance_tasks, secrets)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
       ON CONFLICT (cluster, service) DO UPDATE
         SET alarm_prefixes = EXCLUDED.alarm_prefixes, allowed_actions = EXCLUDED.allowed_actions,
             min_tasks = EXCLUDED.min_tasks, max_tasks = EXCLUDED.max_tasks, autonomy = EXCLUDED.autonomy,
             fallback = EXCLUDED.fallback, maintenance_tasks = EXCLUDED.maintenance_tasks,
             secrets = EXCLUDED.secrets`,
      [
        record.cluster,
        record.service,
        record.alarmPrefixes,
        record.allowedActions,
        record.minTasks,
        record.maxTasks,
        JSON.stringify(record.autonomy ?? {}),
        record.fallback ? JSON.stringify(record.fallback) : null,
        record.maintenanceTasks ?? [],
        record.secrets ?? [],
      ],
    );
  }

  /**
   * Registers a service as a deploy declares it (the migrator, from the stack's
   * WatchedService registrations): adds it when new, and otherwise updates only
   * the columns the deploy owns (alarm prefixes, task bounds, and maintenance
   * tasks when it declares them). Autonomy, allowed actions, fallback and secrets
   * are not declared by a deploy: they are operators' decisions (`homeostat
   * autonomy set`, the audited registry) and a redeploy keeps them.
   */
  /**
   * Upserts the columns a deploy owns (alarm prefixes, task bounds, maintenance
   * tasks when declared); the operator's decisions (autonomy, allowed actions,
   * fallback, secrets) stay. `registeredBy` names the declaring registration
   * ("<stack id>/<logical id>"), so only it may unregister the service. A
   * service is declared by one registration at a time: when another one holds
   * it, nothing changes and RegistrationConflictError names the holder (rows
   * registered by nobody — the CLI, older deploys — are taken over).
   */
  async registerDeployedService(
    registration: DeployedServiceRegistration,
    registeredBy?: string,
  ): Promise<void> {
    this.watchedCache.delete(`${registration.cluster}/${registration.service}`);
    const written = await this.pool.query(
      `INSERT INTO watched_services (cluster, service, alarm_prefixes, min_tasks, max_tasks, maintenance_tasks, registered_by)
       VALUES ($1, $2, $3, $4, $5, COALESCE($6::text[], '{}'), $7)
       ON CONFLICT (cluster, service) DO UPDATE
         SET alarm_prefixes = EXCLUDED.alarm_prefixes, min_tasks = EXCLUDED.min_tasks,
             max_tasks = EXCLUDED.max_tasks, registered_by = EXCLUDED.registered_by,
             maintenance_tasks = CASE WHEN $6::text[] IS NULL THEN watched_services.maintenance_tasks
                                      ELSE EXCLUDED.maintenance_tasks END
         WHERE watched_services.registered_by IS NULL OR $7::text IS NULL
            OR watched_services.registered_by = $7::text`,
      [
        registration.cluster,
        registration.service,
        registration.alarmPrefixes,
        registration.minTasks,
        registration.maxTasks,
        registration.maintenanceTasks ?? null,
        registeredBy ?? null,
      ],
    );
    if ((written.rowCount ?? 0) > 0) return;
    const holder = await this.pool.query(
      'SELECT registered_by FROM watched_services WHERE cluster = $1 AND service = $2',
      [registration.cluster, registration.service],
    );
    throw new RegistrationConflictError(
      `${registration.cluster}/${registration.service} is already declared by ${holder.rows[0]?.registered_by ?? 'another registration'}: a service is watched through one WatchedService; remove one of the two declarations (to move it, remove it from the old stack first)`,
    );
  }

  /**
   * Unregisters a service a deploy declared, only if `registeredBy` (or nobody
   * recorded) declared it last. Returns what happened: `removed`, `absent`
   * (nothing to remove), or `kept` (another registration declares it now).
   */
  async unregisterDeployedService(
    ref: ServiceRef,
    registeredBy: string,
  ): Promise<'removed' | 'absent' | 'kept'> {
    this.watchedCache.delete(`${ref.cluster}/${ref.service}`);
    const removed = await this.pool.query(
      `DELETE FROM watched_services
        WHERE cluster = $1 AND service = $2 AND (registered_by IS NULL OR registered_by = $3)`,
      [ref.cluster, ref.service, registeredBy],
    );
    if ((removed.rowCount ?? 0) > 0) return 'removed';
    const left = await this.pool.query('SELECT 1 FROM watched_services WHERE cluster = $1 AND service = $2', [
      ref.cluster,
      ref.service,
    ]);
    return left.rowCount ? 'kept' : 'absent';
  }

  async unregisterService(ref: ServiceRef): Promise<void> {
    this.watchedCache.delete(`${ref.cluster}/${ref.service}`);
    await this.pool.query('DELETE FROM watched_services WHERE cluster = $1 AND service = $2', [
      ref.cluster,
      ref.service,
    ]);
  }
}
