import { HomeostatError } from '../domain/errors.ts';
import {
  assertTransition,
  type CorrelationContext,
  type CorrelationSettings,
  type IncidentState,
  isSelfResolutionDue,
  isTerminal,
  type OpenIncidentView,
  terminalStates,
} from '../domain/incident.ts';
import type {
  Applied,
  IncidentRecord,
  IngestRequest,
  IngestResult,
  PerceptionStore,
  WatchedServiceRecord,
} from '../domain/ports.ts';
import type { RetryOptions } from '../domain/retry.ts';
import type { ServiceRef, ServiceSnapshot } from '../domain/signal.ts';
import type { Envelope } from '../events/envelope.ts';
import { isTransientDatabaseError, type Pool, type PoolClient, withTransaction } from './database.ts';

/** Another writer changed the incident (or opened one) first; the transaction is retried on fresh data. */
export class ConcurrencyConflictError extends HomeostatError {
  override readonly name = 'ConcurrencyConflictError';
}

const isConflict = (error: unknown) =>
  error instanceof ConcurrencyConflictError ||
  // Two writers opening the first incident of a service: the partial unique index lets one win.
  ((error as { code?: string } | null)?.code === '23505' &&
    /incidents_one_live_per_service/.test(
      (error as Error).message + String((error as { constraint?: string }).constraint),
    ));

const terminal = terminalStates.map((s) => `'${s}'`).join(', ');

interface IncidentRow {
  id: string;
  cluster: string;
  service: string;
  state: IncidentState;
  version: number;
  title: string;
  fingerprint: string;
  opened_at: Date;
  last_signal_at: Date;
  last_fault_at: Date | null;
  recovery_seen_at: Date | null;
  signal_count: number;
  chaos_experiment_id: string | null;
  service_snapshot: ServiceSnapshot | null;
}

const toRecord = (r: IncidentRow): IncidentRecord => ({
  id: r.id,
  service: { cluster: r.cluster, service: r.service },
  state: r.state,
  version: r.version,
  title: r.title,
  fingerprint: r.fingerprint,
  openedAt: new Date(r.opened_at),
  lastSignalAt: new Date(r.last_signal_at),
  signalCount: r.signal_count,
  chaosExperimentId: r.chaos_experiment_id,
  serviceSnapshot: r.service_snapshot,
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
      `SELECT cluster, service, alarm_prefixes, allowed_actions, min_tasks, max_tasks
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

  async ingest(request: IngestRequest): Promise<IngestResult> {
    return this.transaction(async (client) => {
      const context = await this.context(client, request);
      if (context === 'redelivery') {
        const pending = await client.query(
          'SELECT envelope FROM outbox WHERE causation_id = $1 AND published_at IS NULL ORDER BY seq',
          [request.signal.id],
        );
        return { applied: { kind: 'redelivery' }, pending: pending.rows.map((r) => r.envelope as Envelope) };
      }
      const applied = await this.apply(client, request, context);
      const envelopes = request.announce(applied);
      await this.outbox(client, request.signal.id, envelopes);
      return { applied, pending: envelopes };
    });
  }

  /** The delivery ledger and the service's correlation context, in one round trip. */
  private async context(
    client: PoolClient,
    request: IngestRequest,
  ): Promise<CorrelationContext | 'redelivery'> {
    const { rows } = await client.query(
      `SELECT
         EXISTS (SELECT 1 FROM signal_events WHERE event_id = $1) AS seen,
         (SELECT row_to_json(s) FROM (
            SELECT id, last_seen_at, incident_id FROM signals
             WHERE fingerprint = $2 ORDER BY last_seen_at DESC LIMIT 1) s) AS same,
         (SELECT row_to_json(i) FROM (
            SELECT * FROM incidents
             WHERE cluster = $3 AND service = $4 AND state NOT IN (${terminal}) LIMIT 1) i) AS open,
         (SELECT row_to_json(c) FROM (
            SELECT attributes->>'chaosExperimentId' AS experiment_id, occurred_at FROM signals
             WHERE kind = 'chaos' AND cluster = $3 AND service = $4 ORDER BY occurred_at DESC LIMIT 1) c) AS chaos`,
      [request.signal.id, request.fingerprint, request.service.cluster, request.service.service],
    );
    const row = rows[0] ?? {};
    if (row.seen) return 'redelivery';
    const s = row.same;
    const c = row.chaos;
    return {
      sameFingerprint: s
        ? { signalId: s.id, lastSeenAt: new Date(s.last_seen_at), incidentId: s.incident_id }
        : null,
      openIncident: row.open ? toView(row.open as IncidentRow) : null,
      lastChaos: c?.experiment_id ? { experimentId: c.experiment_id, at: new Date(c.occurred_at) } : null,
    };
  }

  private async apply(
    client: PoolClient,
    request: IngestRequest,
    context: CorrelationContext,
  ): Promise<Applied> {
    const { signal } = request;
    const decision = request.decide(context);
    const at = signal.occurredAt.toISOString();
    switch (decision.kind) {
      case 'repeat': {
        const { rows } = await client.query(
          `WITH repeated AS (
             UPDATE signals SET occurrences = occurrences + 1, last_seen_at = greatest(last_seen_at, $2)
              WHERE id = $1 RETURNING id, occurrences)
           INSERT INTO signal_events (event_id, signal_id) SELECT $3, id FROM repeated RETURNING
             (SELECT occurrences FROM repeated)`,
          [decision.signalId, at, request.signal.id],
        );
        return {
          kind: 'repeat',
          signalId: decision.signalId,
          incidentId: decision.incidentId,
          occurrences: rows[0]?.occurrences ?? 0,
        };
      }
      case 'open': {
        const { rows } = await client.query<IncidentRow>(
          `INSERT INTO incidents (cluster, service, title, fingerprint, opened_at, updated_at, last_signal_at,
                                  last_fault_at, chaos_experiment_id, service_snapshot)
           VALUES ($1, $2, $3, $4, $5, now(), $5, $5, $6, $7) RETURNING *`,
          [
            request.service.cluster,
            request.service.service,
            `${signal.name} on ${request.service.cluster}/${request.service.service}`,
            request.fingerprint,
            at,
            decision.chaosExperimentId,
            request.snapshot ? JSON.stringify(request.snapshot) : null,
          ],
        );
        const incident = rows[0] as IncidentRow;
        await this.insertSignal(client, request, incident.id, null);
        await this.timeline(client, incident.id, at, 'opened', {
          signalId: signal.id,
          fingerprint: request.fingerprint,
          chaosExperimentId: decision.chaosExperimentId,
        });
        await this.timeline(client, incident.id, at, 'signal', this.signalSummary(request));
        return { kind: 'opened', incident: toRecord(incident) };
      }
      case 'attach': {
        const { rows } = await client.query<IncidentRow>(
          `UPDATE incidents
              SET signal_count = signal_count + 1,
                  last_signal_at = greatest(last_signal_at, $3),
                  last_fault_at = CASE WHEN $4 THEN last_fault_at ELSE greatest(coalesce(last_fault_at, $3), $3) END,
                  recovery_seen_at = CASE WHEN $4 THEN greatest(coalesce(recovery_seen_at, $3), $3) ELSE recovery_seen_at END,
                  version = version + 1,
                  updated_at = now()
            WHERE id = $1 AND version = $2
          RETURNING *`,
          [decision.incidentId, decision.expectedVersion, at, decision.recovery],
        );
        if (!rows[0])
          throw new ConcurrencyConflictError(`incident ${decision.incidentId} changed since it was read`);
        await this.insertSignal(client, request, decision.incidentId, null);
        await this.timeline(client, decision.incidentId, at, 'signal', this.signalSummary(request));
        return { kind: 'attached', incident: toRecord(rows[0]), recovery: decision.recovery };
      }
      case 'suppress':
        await this.insertSignal(client, request, null, decision.reason);
        return { kind: 'suppressed', reason: decision.reason };
    }
  }

  private signalSummary(request: IngestRequest) {
    const { signal } = request;
    return {
      signalId: signal.id,
      kind: signal.kind,
      name: signal.name,
      classification: signal.classification,
      reason: signal.reason,
    };
  }

  private async insertSignal(
    client: PoolClient,
    request: IngestRequest,
    incidentId: string | null,
    suppressed: string | null,
  ) {
    const { signal } = request;
    await client.query(
      `WITH inserted AS (
         INSERT INTO signals (id, kind, name, state, previous_state, reason, occurred_at, last_seen_at, cluster, service,
                              service_snapshot, raw, classification, fingerprint, attributes, incident_id, suppressed_reason)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16) RETURNING id)
       INSERT INTO signal_events (event_id, signal_id) SELECT id, id FROM inserted`,
      [
        signal.id,
        signal.kind,
        signal.name,
        signal.state,
        signal.previousState,
        signal.reason,
        signal.occurredAt.toISOString(),
        request.service.cluster,
        request.service.service,
        request.snapshot ? JSON.stringify(request.snapshot) : null,
        JSON.stringify(signal.raw),
        signal.classification,
        request.fingerprint,
        JSON.stringify(signal.attributes),
        incidentId,
        suppressed,
      ],
    );
  }

  /** Stores the events announcing a change in the change's own transaction, in order. */
  private async outbox(client: PoolClient, causationId: string, envelopes: Envelope[]) {
    if (envelopes.length === 0) return;
    await client.query(
      `INSERT INTO outbox (id, causation_id, envelope)
       SELECT e->>'id', $1, e FROM jsonb_array_elements($2::jsonb) WITH ORDINALITY AS t(e, n) ORDER BY n
       ON CONFLICT (id) DO NOTHING`,
      [causationId, JSON.stringify(envelopes)],
    );
  }

  private async timeline(client: PoolClient, incidentId: string, at: string, kind: string, detail: object) {
    await client.query(
      'INSERT INTO incident_timeline (incident_id, at, kind, detail) VALUES ($1, $2, $3, $4)',
      [incidentId, at, kind, JSON.stringify(detail)],
    );
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
    await this.timeline(client, row.id, at.toISOString(), timelineKind, { from: row.state, ...detail });
    return toRecord(updated);
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
        await this.outbox(client, env.causationId ?? moved.id, [env]);
        return env;
      });
      if (envelope) envelopes.push(envelope);
    }
    return envelopes;
  }

  /** Adds or updates a watched service (the registry used by WatchedService and the tests). */
  async registerService(record: WatchedServiceRecord): Promise<void> {
    this.watchedCache.delete(`${record.cluster}/${record.service}`);
    await this.pool.query(
      `INSERT INTO watched_services (cluster, service, alarm_prefixes, allowed_actions, min_tasks, max_tasks)
       VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (cluster, service) DO UPDATE
         SET alarm_prefixes = EXCLUDED.alarm_prefixes, allowed_actions = EXCLUDED.allowed_actions,
             min_tasks = EXCLUDED.min_tasks, max_tasks = EXCLUDED.max_tasks`,
      [
        record.cluster,
        record.service,
        record.alarmPrefixes,
        record.allowedActions,
        record.minTasks,
        record.maxTasks,
      ],
    );
  }

  async unregisterService(ref: ServiceRef): Promise<void> {
    this.watchedCache.delete(`${ref.cluster}/${ref.service}`);
    await this.pool.query('DELETE FROM watched_services WHERE cluster = $1 AND service = $2', [
      ref.cluster,
      ref.service,
    ]);
  }
}
