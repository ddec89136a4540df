/** Incident rows and the append-only writes every agent shares: the timeline and the outbox. */
import type { TimelineRow } from '../domain/correlation-batch.ts';
import type { IncidentState } from '../domain/incident.ts';
import type { IncidentRecord } from '../domain/ports.ts';
import type { ServiceSnapshot } from '../domain/signal.ts';
import type { Envelope } from '../events/envelope.ts';
import type { PoolClient } from './database.ts';

export interface IncidentRow {
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

export const toRecord = (r: IncidentRow): IncidentRecord => ({
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

/** Stores the events announcing a change in the change's own transaction, in order. */
export async function writeOutbox(
  client: PoolClient,
  rows: readonly { causationId: string; envelope: Envelope }[],
) {
  if (rows.length === 0) return;
  await client.query(
    `INSERT INTO outbox (id, causation_id, envelope)
     SELECT e->'envelope'->>'id', e->>'causation_id', e->'envelope'
       FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS t(e, n) ORDER BY n
     ON CONFLICT (id) DO NOTHING`,
    [JSON.stringify(rows.map((o) => ({ causation_id: o.causationId, envelope: o.envelope })))],
  );
}

/** Events a handled event produced that are not published yet (an earlier attempt stopped short). */
export async function pendingOutbox(db: Pick<PoolClient, 'query'>, causationId: string): Promise<Envelope[]> {
  const { rows } = await db.query(
    'SELECT envelope FROM outbox WHERE causation_id = $1 AND published_at IS NULL ORDER BY seq',
    [causationId],
  );
  return rows.map((r) => r.envelope as Envelope);
}

/** Appends timeline entries in order. */
export async function writeTimeline(client: PoolClient, rows: readonly TimelineRow[]) {
  if (rows.length === 0) return;
  await client.query(
    `INSERT INTO incident_timeline (incident_id, at, kind, detail)
     SELECT (e->>'incident_id')::uuid, (e->>'at')::timestamptz, e->>'kind', e->'detail'
       FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS t(e, n) ORDER BY n`,
    [
      JSON.stringify(
        rows.map((t) => ({
          incident_id: t.incidentId,
          at: t.at.toISOString(),
          kind: t.kind,
          detail: t.detail,
        })),
      ),
    ],
  );
}
