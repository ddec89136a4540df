import type { ActionParameters } from '../domain/actions.ts';
import type { DiagnosisProposal } from '../domain/diagnosis.ts';
import { assertTransition, isTerminal } from '../domain/incident.ts';
import type { IncidentRecord } from '../domain/ports.ts';
import type { PreState } from '../domain/remediation.ts';
import type { ServiceRef } from '../domain/signal.ts';
import type { CatalogAction } from '../domain/taxonomy.ts';
import type { Envelope } from '../events/envelope.ts';
import {
  type ApprovalRequest,
  idempotencyKey,
  type NewStep,
  type RemediationChange,
  type RemediationStep,
  type RemediationStore,
  type StepFields,
  type StepStatus,
} from '../usecases/remediation-ports.ts';

export { idempotencyKey };

import type { QueryResult, QueryResultRow } from '@neondatabase/serverless';
import { newFaultEvidence, type SignalSeen } from '../domain/rediagnosis.ts';
import { appendAudit } from './audit-log.ts';
import { type Pool, type PoolClient, withTransaction } from './database.ts';
import { type IncidentRow, pendingOutbox, toRecord, writeOutbox, writeTimeline } from './incident-rows.ts';
import { recordSteadyRevision } from './steady-revisions.ts';

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
  checks: number;
  updated_at: Date;
  detail: Record<string, unknown>;
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
  checks: r.checks,
  updatedAt: new Date(r.updated_at),
  detail: r.detail,
});

/** A connection inside a transaction, or the pool (single statements). */
interface Queryable {
  // biome-ignore lint/suspicious/noExplicitAny: rows are untyped unless a row type is given, as with pg itself.
  query<R extends QueryResultRow = any>(text: string, params?: unknown[]): Promise<QueryResult<R>>;
}

/** A guard of a change did not hold: another delivery got there first. */
class Duplicate extends Error {}

const approvalColumns = `nonce, incident_id, step, binding_hash, expires_at, approve_token_hash, reject_token_hash,
                         decision, decided_by, decided_at, decided_via`;

const toApproval = (r: {
  nonce: string;
  incident_id: string;
  step: number;
  binding_hash: string;
  expires_at: Date;
  approve_token_hash: string | null;
  reject_token_hash: string | null;
  decision: ApprovalRequest['decision'];
  decided_by: string | null;
  decided_at: Date | null;
  decided_via: ApprovalRequest['decidedVia'];
}): ApprovalRequest => ({
  nonce: r.nonce,
  incidentId: r.incident_id,
  step: r.step,
  bindingHash: r.binding_hash,
  expiresAt: new Date(r.expires_at),
  tokenHashes: { approve: r.approve_token_hash, reject: r.reject_token_hash },
  decision: r.decision,
  decidedBy: r.decided_by,
  decidedAt: r.decided_at ? new Date(r.decided_at) : null,
  decidedVia: r.decided_via,
});

/** Outcomes that count against the circuit breaker. */
const ineffective: StepStatus[] = ['no_effect', 'worse'];

/**
 * Remediation state in Postgres: the per-service lease, the steps (each once,
 * by idempotency key), approvals (each spent once) and steady revisions.
 */
export class PostgresRemediationStore implements RemediationStore {
  constructor(private readonly pool: Pool) {}

  async incident(incidentId: string): Promise<IncidentRecord | null> {
    const { rows } = await this.pool.query<IncidentRow>('SELECT * FROM incidents WHERE id = $1', [
      incidentId,
    ]);
    return rows[0] ? toRecord(rows[0]) : null;
  }

  /** The incident's accepted diagnosis, as the planner reads it. */
  async diagnosis(incidentId: string): Promise<DiagnosisProposal | null> {
    const { rows } = await this.pool.query(
      'SELECT hypotheses, recommended_actions, insufficient_evidence, judgement FROM diagnoses WHERE incident_id = $1',
      [incidentId],
    );
    const row = rows[0];
    return row
      ? {
          hypotheses: row.hypotheses,
          recommendedActions: row.recommended_actions,
          insufficientEvidence: row.insufficient_evidence,
          ...(row.judgement ? { judgement: row.judgement } : {}),
        }
      : null;
  }

  async newEvidence(incidentId: string): Promise<string[]> {
    const { rows } = await this.pool.query(
      `SELECT d.evidence, coalesce(d.revised_at, d.completed_at) AS as_of,
              coalesce((SELECT json_agg(json_build_object('kind', s.kind, 'name', s.name,
                                                          'classification', s.classification) ORDER BY s.received_at)
                          FROM signals s
                         WHERE s.incident_id = d.incident_id
                           AND s.received_at > coalesce(d.revised_at, d.completed_at)), '[]') AS arrived
         FROM diagnoses d WHERE d.incident_id = $1`,
      [incidentId],
    );
    const row = rows[0];
    if (!row) return [];
    // What the diagnosis saw: its signals evidence.
    const seen = (row.evidence as { kind: string; facts?: { signals?: SignalSeen[] } }[])
      .filter((e) => e.kind === 'signals')
      .flatMap((e) => e.facts?.signals ?? []);
    return newFaultEvidence(seen, row.arrived as SignalSeen[]);
  }

  async steps(incidentId: string): Promise<RemediationStep[]> {
    const { rows } = await this.pool.query<StepRow>(
      'SELECT * FROM remediation_steps WHERE incident_id = $1 ORDER BY step',
      [incidentId],
    );
    return rows.map(toStep);
  }

  /**
   * Applies a change atomically: its guards (a new step, a step move, a
   * verification check, an approval spent) and its effects (the incident's
   * states, lease, steady revision, timeline, audit log and outbox). When a
   * guard does not hold, nothing is written and the change is a duplicate.
   */
  async commit(change: RemediationChange): Promise<'committed' | 'duplicate'> {
    try {
      await withTransaction(this.pool, (client) => this.apply(client, change));
      return 'committed';
    } catch (error) {
      if (error instanceof Duplicate) return 'duplicate';
      throw error;
    }
  }

  private async apply(client: PoolClient, c: RemediationChange): Promise<void> {
    const { incidentId, at } = c;
    const guard = (rows: unknown[], what: string) => {
      if (rows.length === 0) throw new Duplicate(what);
    };
    if (c.newStep) guard((await this.insertStep(client, c.newStep)).rows, 'step exists');
    if (c.moveStep) {
      const m = c.moveStep;
      guard((await this.updateStep(client, m.key, m.from, m.to, m.fields ?? {})).rows, 'step moved');
    }
    if (c.claimCheck) {
      const { rows } = await client.query(
        `UPDATE remediation_steps SET checks = $2, updated_at = now()
          WHERE idempotency_key = $1 AND checks = $2 - 1 RETURNING 1`,
        [c.claimCheck.key, c.claimCheck.check],
      );
      guard(rows, 'check claimed');
    }
    if (c.spendApproval) {
      const a = c.spendApproval;
      // A decision only before the expiry; an expiry only after it.
      const { rows } = await client.query(
        `UPDATE approvals SET decision = $2, decided_by = $3, decided_at = $4, decided_via = $5
          WHERE nonce = $1 AND decision IS NULL
            AND CASE WHEN $2 = 'expired' THEN expires_at <= $4 ELSE expires_at > $4 END RETURNING 1`,
        [a.nonce, a.decision, a.decidedBy, at.toISOString(), a.via],
      );
      guard(rows, 'approval spent');
    }
    if (c.approvalRequest) {
      const a = c.approvalRequest;
      await client.query(
        `INSERT INTO approvals (nonce, incident_id, step, binding_hash, expires_at, approve_token_hash, reject_token_hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7)`,
        [
          a.nonce,
          incidentId,
          a.step,
          a.bindingHash,
          a.expiresAt.toISOString(),
          a.tokenHashes.approve,
          a.tokenHashes.reject,
        ],
      );
    }
    const { rows } = await client.query<IncidentRow>('SELECT * FROM incidents WHERE id = $1 FOR UPDATE', [
      incidentId,
    ]);
    const incident = rows[0];
    if (!incident) throw new Error(`incident ${incidentId} does not exist`);
    if (c.incidentFrom && !c.incidentFrom.includes(incident.state)) throw new Duplicate('incident moved on');
    let state = incident.state;
    for (const to of c.incidentPath ?? []) {
      if (to === state) continue;
      assertTransition(state, to);
      await client.query(
        `UPDATE incidents SET state = $2, version = version + 1, updated_at = now(),
                closed_at = CASE WHEN $3 THEN $4::timestamptz ELSE closed_at END
          WHERE id = $1`,
        [incidentId, to, isTerminal(to), at.toISOString()],
      );
      await writeTimeline(client, [{ incidentId, at, kind: `state:${to}`, detail: { from: state } }]);
      state = to;
    }
    if (c.releaseLease)
      await client.query(
        'DELETE FROM remediation_leases WHERE cluster = $1 AND service = $2 AND incident_id = $3',
        [incident.cluster, incident.service, incidentId],
      );
    if (c.steady)
      await recordSteadyRevision(
        client,
        { cluster: incident.cluster, service: incident.service },
        c.steady.taskDefinition,
        at,
      );
    await writeTimeline(
      client,
      (c.timeline ?? []).map((t) => ({ incidentId, at, kind: t.kind, detail: t.detail })),
    );
    await appendAudit(
      client,
      (c.audit ?? []).map((entry) => ({ ...entry, incidentId })),
    );
    await writeOutbox(
      client,
      (c.envelopes ?? []).map((envelope) => ({ causationId: c.causationId, envelope })),
    );
  }

  /** Events a handled event produced that are not published yet (an earlier attempt stopped short). */
  async pending(causationId: string): Promise<Envelope[]> {
    return pendingOutbox(this.pool, causationId);
  }

  async markPublished(envelopeIds: string[]): Promise<void> {
    if (envelopeIds.length === 0) return;
    await this.pool.query(
      'UPDATE outbox SET published_at = now() WHERE id = ANY($1) AND published_at IS NULL',
      [envelopeIds],
    );
  }

  /** The incident's newest approval request, decided or not (the CLI decides it, or hears how it was decided). */
  async latestApproval(incidentId: string): Promise<ApprovalRequest | null> {
    const { rows } = await this.pool.query(
      `SELECT ${approvalColumns} FROM approvals WHERE incident_id = $1 ORDER BY created_at DESC, step DESC LIMIT 1`,
      [incidentId],
    );
    return rows[0] ? toApproval(rows[0]) : null;
  }

  async approval(nonce: string): Promise<ApprovalRequest | null> {
    const { rows } = await this.pool.query(`SELECT ${approvalColumns} FROM approvals WHERE nonce = $1`, [
      nonce,
    ]);
    return rows[0] ? toApproval(rows[0]) : null;
  }

  /** Undecided approval requests past their expiry at `now`, oldest first: the sweep's work. */
  async expiredApprovals(now: Date, limit: number): Promise<ApprovalRequest[]> {
    const { rows } = await this.pool.query(
      `SELECT ${approvalColumns} FROM approvals
        WHERE decision IS NULL AND expires_at <= $1 ORDER BY expires_at, nonce LIMIT $2`,
      [now.toISOString(), limit],
    );
    return rows.map(toApproval);
  }

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
            -- An incident closed by another path (self-resolved, closed by hand) no longer holds its service.
            OR EXISTS (SELECT 1 FROM incidents i WHERE i.id = remediation_leases.incident_id
                        AND i.state IN ('resolved', 'failed', 'escalated', 'self_resolved'))
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
  async recordStep(step: NewStep): Promise<{ created: boolean; step: RemediationStep }> {
    const inserted = await this.insertStep(this.pool, step);
    if (inserted.rows[0]) return { created: true, step: toStep(inserted.rows[0]) };
    const key = idempotencyKey(step.incidentId, step.step);
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
  async moveStep(key: string, from: readonly StepStatus[], to: StepStatus, fields: StepFields = {}) {
    return (await this.updateStep(this.pool, key, from, to, fields)).rows.length > 0;
  }

  private insertStep(client: Queryable, step: NewStep) {
    return client.query<StepRow>(
      `INSERT INTO remediation_steps (idempotency_key, incident_id, step, cluster, service, fingerprint, action,
                                      parameters, mode, status, policy_version, snapshot, detail)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
       ON CONFLICT (idempotency_key) DO NOTHING RETURNING *`,
      [
        idempotencyKey(step.incidentId, step.step),
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
        JSON.stringify(step.detail ?? {}),
      ],
    );
  }

  private updateStep(
    client: Queryable,
    key: string,
    from: readonly StepStatus[],
    to: StepStatus,
    fields: StepFields,
  ) {
    return client.query(
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
    await recordSteadyRevision(this.pool, ref, taskDefinition, at);
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
