import type { ActionParameters } from '../domain/actions.ts';
import type { PreState } from '../domain/remediation.ts';
import type { ServiceRef } from '../domain/signal.ts';
import type { CatalogAction } from '../domain/taxonomy.ts';
import type { Pool } from './database.ts';

export type StepStatus =
  | 'planned'
  | 'awaiting_approval'
  | 'rejected'
  | 'expired'
  | 'executing'
  | 'executed'
  | 'dry_run'
  | 'resolved'
  | 'no_effect'
  | 'worse'
  | 'failed';

export interface RemediationStep {
  idempotencyKey: string;
  incidentId: string;
  step: number;
  service: ServiceRef;
  fingerprint: string;
  action: CatalogAction;
  parameters: ActionParameters;
  mode: 'auto' | 'observe' | 'approve';
  status: StepStatus;
  policyVersion: string;
  snapshot: PreState | null;
  undone: boolean;
  executedAt: Date | null;
  verifyAt: Date | null;
}

export const idempotencyKey = (incidentId: string, step: number) => `${incidentId}:${step}`;

interface StepRow {
  idempotency_key: string;
  incident_id: string;
  step: number;
  cluster: string;
  service: string;
  fingerprint: string;
  action: CatalogAction;
  parameters: ActionParameters;
  mode: RemediationStep['mode'];
  status: StepStatus;
  policy_version: string;
  snapshot: PreState | null;
  undone: boolean;
  executed_at: Date | null;
  verify_at: Date | null;
}

const toStep = (r: StepRow): RemediationStep => ({
  idempotencyKey: r.idempotency_key,
  incidentId: r.incident_id,
  step: r.step,
  service: { cluster: r.cluster, service: r.service },
  fingerprint: r.fingerprint,
  action: r.action,
  parameters: r.parameters,
  mode: r.mode,
  status: r.status,
  policyVersion: r.policy_version,
  snapshot: r.snapshot,
  undone: r.undone,
  executedAt: r.executed_at ? new Date(r.executed_at) : null,
  verifyAt: r.verify_at ? new Date(r.verify_at) : null,
});

/** Outcomes that count against the circuit breaker. */
const ineffective: StepStatus[] = ['no_effect', 'worse'];

/**
 * Remediation state in Postgres: the per-service lease, the steps (each once,
 * by idempotency key), approvals (each spent once) and steady revisions.
 */
export class PostgresRemediationStore {
  constructor(private readonly pool: Pool) {}

  /**
   * Takes the service's remediation lease for `incidentId` (or renews it).
   * Returns null when taken, or the incident that holds it.
   */
  async acquireLease(ref: ServiceRef, incidentId: string, now: Date, ttlMs: number): Promise<string | null> {
    const { rows } = await this.pool.query(
      `INSERT INTO remediation_leases (cluster, service, incident_id, acquired_at, expires_at)
       VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (cluster, service) DO UPDATE
         SET incident_id = excluded.incident_id, acquired_at = excluded.acquired_at, expires_at = excluded.expires_at
         WHERE remediation_leases.incident_id = excluded.incident_id OR remediation_leases.expires_at <= excluded.acquired_at
       RETURNING incident_id`,
      [
        ref.cluster,
        ref.service,
        incidentId,
        now.toISOString(),
        new Date(now.getTime() + ttlMs).toISOString(),
      ],
    );
    if (rows.length > 0) return null;
    const held = await this.pool.query(
      'SELECT incident_id FROM remediation_leases WHERE cluster = $1 AND service = $2',
      [ref.cluster, ref.service],
    );
    return (held.rows[0]?.incident_id as string | undefined) ?? null;
  }

  async releaseLease(ref: ServiceRef, incidentId: string): Promise<void> {
    await this.pool.query(
      'DELETE FROM remediation_leases WHERE cluster = $1 AND service = $2 AND incident_id = $3',
      [ref.cluster, ref.service, incidentId],
    );
  }

  /** Records a step once; a second call with the same key returns the step as first recorded. */
  async recordStep(
    step: Omit<RemediationStep, 'idempotencyKey' | 'undone' | 'executedAt' | 'verifyAt'>,
  ): Promise<{ created: boolean; step: RemediationStep }> {
    const key = idempotencyKey(step.incidentId, step.step);
    const inserted = await this.pool.query<StepRow>(
      `INSERT INTO remediation_steps (idempotency_key, incident_id, step, cluster, service, fingerprint, action,
                                      parameters, mode, status, policy_version, snapshot)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
       ON CONFLICT (idempotency_key) DO NOTHING RETURNING *`,
      [
        key,
        step.incidentId,
        step.step,
        step.service.cluster,
        step.service.service,
        step.fingerprint,
        step.action,
        JSON.stringify(step.parameters),
        step.mode,
        step.status,
        step.policyVersion,
        step.snapshot === null ? null : JSON.stringify(step.snapshot),
      ],
    );
    if (inserted.rows[0]) return { created: true, step: toStep(inserted.rows[0]) };
    const existing = await this.step(key);
    if (!existing) throw new Error(`step ${key} vanished`);
    return { created: false, step: existing };
  }

  async step(key: string): Promise<RemediationStep | null> {
    const { rows } = await this.pool.query<StepRow>(
      'SELECT * FROM remediation_steps WHERE idempotency_key = $1',
      [key],
    );
    return rows[0] ? toStep(rows[0]) : null;
  }

  /**
   * Moves a step from one of `from` to `to` (with the fields given); false when
   * it was not in one of `from` — another delivery got there first.
   */
  async moveStep(
    key: string,
    from: readonly StepStatus[],
    to: StepStatus,
    fields: {
      snapshot?: PreState;
      executedAt?: Date;
      verifyAt?: Date;
      verifiedAt?: Date;
      undone?: boolean;
      detail?: object;
    } = {},
  ): Promise<boolean> {
    const { rows } = await this.pool.query(
      `UPDATE remediation_steps
          SET status = $3, updated_at = now(),
              snapshot = coalesce($4::jsonb, snapshot),
              executed_at = coalesce($5::timestamptz, executed_at),
              verify_at = coalesce($6::timestamptz, verify_at),
              verified_at = coalesce($7::timestamptz, verified_at),
              undone = coalesce($8::boolean, undone),
              detail = detail || $9::jsonb
        WHERE idempotency_key = $1 AND status = ANY ($2::text[]) RETURNING 1`,
      [
        key,
        from,
        to,
        fields.snapshot ? JSON.stringify(fields.snapshot) : null,
        fields.executedAt?.toISOString() ?? null,
        fields.verifyAt?.toISOString() ?? null,
        fields.verifiedAt?.toISOString() ?? null,
        fields.undone ?? null,
        JSON.stringify(fields.detail ?? {}),
      ],
    );
    return rows.length > 0;
  }

  /** Actions executed on the service since `since` (dry runs excluded): the rate limit's input. */
  async recentActions(ref: ServiceRef, since: Date): Promise<{ action: CatalogAction; at: Date }[]> {
    const { rows } = await this.pool.query(
      `SELECT action, executed_at FROM remediation_steps
        WHERE cluster = $1 AND service = $2 AND executed_at > $3 AND mode <> 'observe'
        ORDER BY executed_at DESC`,
      [ref.cluster, ref.service, since.toISOString()],
    );
    return rows.map((r) => ({ action: r.action as CatalogAction, at: new Date(r.executed_at) }));
  }

  /** Remediations of this fingerprint that did not help: the circuit breaker's input. */
  async ineffectiveCount(fingerprint: string, since: Date): Promise<number> {
    const { rows } = await this.pool.query(
      `SELECT count(*)::int AS n FROM remediation_steps
        WHERE fingerprint = $1 AND status = ANY ($2::text[]) AND updated_at > $3`,
      [fingerprint, ineffective, since.toISOString()],
    );
    return rows[0].n as number;
  }

  async requestApproval(input: {
    nonce: string;
    incidentId: string;
    step: number;
    bindingHash: string;
    expiresAt: Date;
  }): Promise<void> {
    await this.pool.query(
      `INSERT INTO approvals (nonce, incident_id, step, binding_hash, expires_at) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (nonce) DO NOTHING`,
      [input.nonce, input.incidentId, input.step, input.bindingHash, input.expiresAt.toISOString()],
    );
  }

  /**
   * Spends an approval token's nonce: true the first time, before expiry;
   * false for a replay, an expired request or an unknown nonce.
   */
  async decideApproval(
    nonce: string,
    decision: 'approved' | 'rejected',
    decidedBy: string,
    now: Date,
  ): Promise<boolean> {
    const { rows } = await this.pool.query(
      `UPDATE approvals SET decision = $2, decided_by = $3, decided_at = $4
        WHERE nonce = $1 AND decision IS NULL AND expires_at > $4 RETURNING 1`,
      [nonce, decision, decidedBy, now.toISOString()],
    );
    return rows.length > 0;
  }

  /** Notes that the service ran `taskDefinition` steadily at `at`. */
  async recordSteady(ref: ServiceRef, taskDefinition: string, at: Date): Promise<void> {
    await this.pool.query(
      `INSERT INTO steady_revisions (cluster, service, task_definition, first_steady_at, last_steady_at)
       VALUES ($1, $2, $3, $4, $4)
       ON CONFLICT (cluster, service, task_definition)
         DO UPDATE SET last_steady_at = greatest(steady_revisions.last_steady_at, excluded.last_steady_at)`,
      [ref.cluster, ref.service, taskDefinition, at.toISOString()],
    );
  }

  /** The latest revision other than `running` that stayed steady at least `minSteadyMs`. */
  async lastKnownGood(ref: ServiceRef, running: string | null, minSteadyMs: number): Promise<string | null> {
    const { rows } = await this.pool.query(
      `SELECT task_definition FROM steady_revisions
        WHERE cluster = $1 AND service = $2 AND task_definition IS DISTINCT FROM $3
          AND last_steady_at - first_steady_at >= make_interval(secs => $4)
        ORDER BY last_steady_at DESC LIMIT 1`,
      [ref.cluster, ref.service, running, minSteadyMs / 1000],
    );
    return (rows[0]?.task_definition as string | undefined) ?? null;
  }
}
