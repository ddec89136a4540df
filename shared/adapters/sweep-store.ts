/**
 * What the sweep looks for in Postgres: remediation work nothing will move
 * on by itself (migration 0012 keeps `incidents.state_changed_at`). Every
 * query is bounded (`limit`) and read-only; the repairs go through the
 * remediation store's guarded commit, so a sweep racing an agent changes
 * nothing twice.
 */
import type { ServiceRef } from '../domain/signal.ts';
import type { StalledIncident, SweepStore } from '../usecases/sweep.ts';
import type { Pool } from './database.ts';

const live = `('resolved', 'failed', 'escalated', 'self_resolved')`;

export class PostgresSweepStore implements SweepStore {
  constructor(private readonly pool: Pool) {}

  async abandonedSteps(before: Date, limit: number): Promise<string[]> {
    const { rows } = await this.pool.query<{ idempotency_key: string }>(
      `SELECT idempotency_key FROM remediation_steps
        WHERE status = 'executing' AND updated_at < $1
        ORDER BY updated_at LIMIT $2`,
      [before.toISOString(), limit],
    );
    return rows.map((r) => r.idempotency_key);
  }

  async overdueChecks(before: Date, limit: number): Promise<string[]> {
    const { rows } = await this.pool.query<{ idempotency_key: string }>(
      `SELECT s.idempotency_key FROM remediation_steps s JOIN incidents i ON i.id = s.incident_id
        WHERE s.status IN ('executed', 'dry_run') AND s.verify_at < $1 AND i.state NOT IN ${live}
        ORDER BY s.verify_at LIMIT $2`,
      [before.toISOString(), limit],
    );
    return rows.map((r) => r.idempotency_key);
  }

  async stalledIncidents(before: Date, limit: number): Promise<StalledIncident[]> {
    // A request still waiting for a person is left to its expiry; a step in flight to the two queries
    // above. An approved request whose action never ran (the act agent's event lost) is stalled too,
    // counted from the decision.
    const { rows } = await this.pool.query<{
      id: string;
      cluster: string;
      service: string;
      state: StalledIncident['state'];
      progress_at: Date;
    }>(
      `SELECT i.id, i.cluster, i.service, i.state,
              greatest(i.state_changed_at, max(s.updated_at), max(a.decided_at)) AS progress_at
         FROM incidents i
         LEFT JOIN remediation_steps s ON s.incident_id = i.id
         LEFT JOIN approvals a ON a.incident_id = i.id
        WHERE i.state NOT IN ${live} AND i.state_changed_at < $1
        GROUP BY i.id
       HAVING greatest(i.state_changed_at, max(s.updated_at), max(a.decided_at)) < $1
          AND NOT bool_or(coalesce(s.status IN ('executing', 'executed', 'dry_run'), false))
          AND NOT bool_or(coalesce(a.nonce IS NOT NULL AND a.decision IS NULL, false))
        ORDER BY progress_at LIMIT $2`,
      [before.toISOString(), limit],
    );
    return rows.map((r) => ({
      incidentId: r.id,
      service: { cluster: r.cluster, service: r.service } satisfies ServiceRef,
      state: r.state,
      since: new Date(r.progress_at),
    }));
  }
}
