import type { GameDayFacts, GameDayRecord, GameDayScore, Injection } from '../domain/chaos.ts';
import { type IncidentState, isTerminal } from '../domain/incident.ts';
import type { ServiceRef } from '../domain/signal.ts';
import type { RootCause } from '../domain/taxonomy.ts';
import type { Envelope } from '../events/envelope.ts';
import type {
  ChaosPreState,
  ChaosRun,
  ChaosRunState,
  NewRun,
  RevertResult,
} from '../usecases/chaos-ports.ts';
import { appendAudit } from './audit-log.ts';
import { type Pool, type PoolClient, withTransaction } from './database.ts';
import { writeOutbox } from './incident-rows.ts';
import { markOutboxPublished } from './outbox-relay.ts';

interface Row {
  id: string;
  experiment: string;
  kind: Injection['kind'];
  cluster: string;
  service: string;
  requested_by: string;
  idempotency_key: string;
  state: ChaosRunState;
  guard: string | null;
  reason: string | null;
  injection: Injection | null;
  pre_state: ChaosPreState | null;
  expected_root_causes: string[];
  duration_minutes: number;
  requested_at: Date;
  injected_at: Date | null;
  revert_at: Date | null;
  reverted_at: Date | null;
  revert_attempts: number;
  revert_needed: boolean | null;
  revert_detail: string | null;
}

const toRun = (r: Row): ChaosRun => ({
  id: r.id,
  experiment: r.experiment,
  kind: r.kind,
  target: { cluster: r.cluster, service: r.service },
  requestedBy: r.requested_by,
  idempotencyKey: r.idempotency_key,
  state: r.state,
  guard: r.guard,
  reason: r.reason,
  injection: r.injection,
  preState: r.pre_state,
  expectedRootCauses: r.expected_root_causes,
  durationMinutes: r.duration_minutes,
  requestedAt: new Date(r.requested_at),
  injectedAt: r.injected_at ? new Date(r.injected_at) : null,
  revertAt: r.revert_at ? new Date(r.revert_at) : null,
  revertedAt: r.reverted_at ? new Date(r.reverted_at) : null,
  revertAttempts: r.revert_attempts,
  revertNeeded: r.revert_needed,
  revertDetail: r.revert_detail,
});

/** Serialises the concurrency check of every chaos agent (one Postgres advisory lock). */
const chaosLock = 0x6368616f; // "chao"

/**
 * Chaos experiment runs, their scores and their audit trail. Every state
 * change writes its audit_log row (and the event announcing it, to the
 * outbox) in the same transaction.
 */
export class PostgresChaosStore {
  constructor(private readonly pool: Pool) {}

  async byKey(idempotencyKey: string): Promise<ChaosRun | null> {
    const { rows } = await this.pool.query('SELECT * FROM chaos_experiments WHERE idempotency_key = $1', [
      idempotencyKey,
    ]);
    return rows[0] ? toRun(rows[0] as Row) : null;
  }

  async get(id: string): Promise<ChaosRun | null> {
    const { rows } = await this.pool.query('SELECT * FROM chaos_experiments WHERE id = $1', [id]);
    return rows[0] ? toRun(rows[0] as Row) : null;
  }

  async activeCount(): Promise<number> {
    const { rows } = await this.pool.query(
      `SELECT count(*)::int AS n FROM chaos_experiments WHERE state IN ('injecting', 'injected')`,
    );
    return rows[0].n as number;
  }

  /** The service's live incident, if any. */
  async openIncident(ref: ServiceRef): Promise<string | null> {
    const { rows } = await this.pool.query(
      `SELECT id FROM incidents WHERE cluster = $1 AND service = $2 AND closed_at IS NULL ORDER BY opened_at DESC LIMIT 1`,
      [ref.cluster, ref.service],
    );
    return (rows[0]?.id as string | undefined) ?? null;
  }

  /** Writes a refused or rehearsed run (once per key) and audits it. */
  async record(
    run: NewRun,
    outcome: { state: 'refused'; guard: string; reason: string } | { state: 'dry_run'; reason: string },
  ): Promise<ChaosRun> {
    return withTransaction(this.pool, async (client) => {
      const inserted = await this.insert(client, run, outcome.state, {
        guard: outcome.state === 'refused' ? outcome.guard : null,
        reason: outcome.reason,
      });
      if (inserted)
        await audit(
          client,
          run.requestedBy,
          `chaos.${outcome.state}`,
          run,
          outcome.state === 'refused' ? outcome.guard : 'dry_run',
          {
            reason: outcome.reason,
            injection: run.injection,
          },
        );
      return toRun(inserted ?? (await this.existing(client, run.idempotencyKey)));
    });
  }

  /**
   * Reserves the run for injection when fewer than `maxConcurrent` experiments
   * are live (and none on its service); otherwise records it refused. Atomic
   * across concurrent agents.
   */
  async reserve(run: NewRun, maxConcurrent: number): Promise<{ reserved: boolean; run: ChaosRun }> {
    return withTransaction(this.pool, async (client) => {
      await client.query('SELECT pg_advisory_xact_lock($1)', [chaosLock]);
      const existing = await client.query('SELECT * FROM chaos_experiments WHERE idempotency_key = $1', [
        run.idempotencyKey,
      ]);
      if (existing.rows[0]) return { reserved: false, run: toRun(existing.rows[0] as Row) };
      const live = (
        await client.query(
          `SELECT cluster, service FROM chaos_experiments WHERE state IN ('injecting', 'injected')`,
        )
      ).rows as { cluster: string; service: string }[];
      const onService = live.some(
        (l) => l.cluster === run.target.cluster && l.service === run.target.service,
      );
      if (onService || live.length >= maxConcurrent) {
        const reason = onService
          ? `an experiment is already live on ${run.target.cluster}/${run.target.service}`
          : `${live.length} experiment(s) already running; at most ${maxConcurrent} at once`;
        const row = await this.insert(client, run, 'refused', { guard: 'concurrency', reason });
        await audit(client, run.requestedBy, 'chaos.refused', run, 'concurrency', { reason });
        return { reserved: false, run: toRun(row as Row) };
      }
      const row = await this.insert(client, run, 'injecting', { guard: null, reason: null });
      return { reserved: true, run: toRun(row as Row) };
    });
  }

  /** What an injection in progress is about to change, written before it changes it. */
  async recordPreState(run: ChaosRun, preState: ChaosPreState) {
    await this.pool.query(
      `UPDATE chaos_experiments SET pre_state = $2 WHERE id = $1 AND state = 'injecting'`,
      [run.id, preState],
    );
  }

  /** Injected: the run, its audit row and the event announcing it (outbox), at once. */
  async markInjected(
    run: ChaosRun,
    preState: ChaosPreState,
    injectedAt: Date,
    revertAt: Date,
    operations: string[],
    announce?: Envelope,
  ) {
    await withTransaction(this.pool, async (client) => {
      const { rowCount } = await client.query(
        `UPDATE chaos_experiments SET state = 'injected', pre_state = $2, injected_at = $3, revert_at = $4
          WHERE id = $1 AND state = 'injecting'`,
        [run.id, preState, injectedAt, revertAt],
      );
      if (!rowCount) return;
      await audit(client, run.requestedBy, 'chaos.injected', run, 'injected', {
        operations,
        preState,
        revertAt: revertAt.toISOString(),
      });
      if (announce) await writeOutbox(client, [{ causationId: run.id, envelope: announce }]);
    });
  }

  async markPublished(envelopeIds: string[]): Promise<void> {
    await markOutboxPublished(this.pool, envelopeIds);
  }

  /** Failed; `reverted`: what undoing it at once did (a failed or partial injection). */
  async markFailed(run: ChaosRun, reason: string, preState: ChaosPreState | null, reverted?: RevertResult) {
    await withTransaction(this.pool, async (client) => {
      await client.query(
        `UPDATE chaos_experiments
            SET state = 'failed', reason = $2, pre_state = coalesce($3, pre_state),
                revert_needed = coalesce($4, revert_needed), revert_detail = coalesce($5, revert_detail)
          WHERE id = $1`,
        [run.id, reason, preState, reverted?.needed ?? null, reverted?.operations.join('; ') ?? null],
      );
      await audit(client, run.requestedBy, 'chaos.failed', run, 'failed', {
        reason,
        ...(reverted ? { preState, revert: reverted.operations } : {}),
      });
    });
  }

  /**
   * A failed or partial injection that could not be undone at once:
   * revert_failed (injected and due now, so scoring and reports count it), escalated.
   */
  async revertFailedAtOnce(run: ChaosRun, reason: string, preState: ChaosPreState, at: Date) {
    await withTransaction(this.pool, async (client) => {
      await client.query(
        `UPDATE chaos_experiments
            SET state = 'revert_failed', reason = $2, pre_state = $3, revert_detail = $2,
                injected_at = coalesce(injected_at, $4), revert_at = coalesce(revert_at, $4),
                revert_attempts = revert_attempts + 1
          WHERE id = $1 AND state IN ('injecting', 'injected')`,
        [run.id, reason, preState, at],
      );
      await audit(client, 'chaos', 'chaos.revert_failed', run, 'escalated', {
        reason,
        preState,
        attempt: run.revertAttempts + 1,
        retryAt: null,
      });
    });
  }

  /** Injected runs whose revert is overdue (the schedule did not fire, or a retry is late). */
  async overdue(before: Date): Promise<ChaosRun[]> {
    const { rows } = await this.pool.query(
      `SELECT * FROM chaos_experiments WHERE state = 'injected' AND revert_at < $1 ORDER BY revert_at LIMIT 20`,
      [before],
    );
    return (rows as Row[]).map(toRun);
  }

  /** Every injected experiment, oldest first (the kill switch reverts them all). */
  async live(): Promise<ChaosRun[]> {
    const { rows } = await this.pool.query(
      `SELECT * FROM chaos_experiments WHERE state = 'injected' ORDER BY injected_at LIMIT 100`,
    );
    return (rows as Row[]).map(toRun);
  }

  /** FIS experiments recorded by runs requested since `since` that no live run accounts for. */
  async strayFisExperiments(since: Date): Promise<string[]> {
    const { rows } = await this.pool.query(
      `SELECT DISTINCT pre_state ->> 'fisExperimentId' AS id FROM chaos_experiments
        WHERE kind = 'fis' AND state IN ('injecting', 'failed', 'revert_failed')
          AND pre_state ? 'fisExperimentId' AND requested_at >= $1`,
      [since],
    );
    return rows.map((r) => r.id as string);
  }

  /** Runs still `injecting` since before `before`: the agent was interrupted mid-injection. */
  async interrupted(before: Date): Promise<ChaosRun[]> {
    const { rows } = await this.pool.query(
      `SELECT * FROM chaos_experiments WHERE state = 'injecting' AND requested_at < $1 ORDER BY requested_at LIMIT 20`,
      [before],
    );
    return (rows as Row[]).map(toRun);
  }

  /** Records the revert; false when another delivery got there first. */
  async markReverted(
    run: ChaosRun,
    needed: boolean,
    operations: string[],
    at: Date,
    killSwitch?: string,
  ): Promise<boolean> {
    return withTransaction(this.pool, async (client) => {
      const { rowCount } = await client.query(
        `UPDATE chaos_experiments
            SET state = 'reverted', reverted_at = $2, revert_needed = $3, revert_detail = $4,
                revert_attempts = revert_attempts + 1
          WHERE id = $1 AND state = 'injected'`,
        [run.id, at, needed, operations.join('; ')],
      );
      if (!rowCount) return false;
      await audit(client, 'chaos', 'chaos.reverted', run, needed ? 'reverted' : 'not_needed', {
        operations,
        ...(killSwitch ? { killSwitch } : {}),
      });
      return true;
    });
  }

  /** A revert attempt failed: retried at `retryAt`, or given up on (null) — escalated, never forgotten. */
  async revertFailed(run: ChaosRun, reason: string, retryAt: Date | null) {
    await withTransaction(this.pool, async (client) => {
      await client.query(
        `UPDATE chaos_experiments
            SET revert_attempts = revert_attempts + 1, revert_detail = $2,
                state = CASE WHEN $3::timestamptz IS NULL THEN 'revert_failed' ELSE state END,
                revert_at = coalesce($3, revert_at)
          WHERE id = $1 AND state = 'injected'`,
        [run.id, reason, retryAt],
      );
      await audit(
        client,
        'chaos',
        retryAt ? 'chaos.revert_retry' : 'chaos.revert_failed',
        run,
        retryAt ? 'retry' : 'escalated',
        {
          reason,
          attempt: run.revertAttempts + 1,
          retryAt: retryAt?.toISOString() ?? null,
        },
      );
    });
  }

  /** What a sweep under the kill switch did: one audit row. */
  async auditKillSwitch(
    reason: string,
    detail: { reverted: string[]; fisStopped: string[]; fisError: string | null },
  ): Promise<void> {
    await appendAudit(this.pool, [
      {
        actor: 'chaos',
        action: 'chaos.kill_switch',
        inputs: { killSwitch: reason },
        result: detail.fisError ? 'partial' : 'stopped',
        detail,
      },
    ]);
  }

  /** What scoring needs: the run and the first incident it caused. */
  async gameDayFacts(id: string): Promise<GameDayFacts | null> {
    const run = await this.get(id);
    if (!run?.injectedAt) return null;
    const { rows } = await this.pool.query(
      `SELECT i.id, i.state, i.closed_at,
              coalesce((SELECT min(s.received_at) FROM signals s WHERE s.incident_id = i.id), i.opened_at) AS detected_at,
              (SELECT d.hypotheses -> 0 ->> 'rootCause' FROM diagnoses d WHERE d.incident_id = i.id) AS root_cause,
              EXISTS (SELECT 1 FROM remediation_steps r WHERE r.incident_id = i.id AND r.undone) AS undo_used
         FROM incidents i WHERE i.chaos_experiment_id = $1 ORDER BY i.opened_at LIMIT 1`,
      [id],
    );
    const i = rows[0] as
      | {
          id: string;
          state: IncidentState;
          closed_at: Date | null;
          detected_at: Date;
          root_cause: string | null;
          undo_used: boolean;
        }
      | undefined;
    return {
      injectedAt: run.injectedAt,
      expected: run.expectedRootCauses as RootCause[],
      ended: run.state === 'reverted' || run.state === 'revert_failed',
      revertNeeded: run.state === 'revert_failed' ? true : run.revertNeeded,
      incident: i
        ? {
            id: i.id,
            detectedAt: new Date(i.detected_at),
            state: i.state,
            terminal: isTerminal(i.state),
            closedAt: i.closed_at ? new Date(i.closed_at) : null,
            diagnosedRootCause: i.root_cause,
            undoUsed: i.undo_used,
          }
        : null,
    };
  }

  /** Upserts the score; true when this write made it final (metrics are emitted once). */
  async saveScore(id: string, s: GameDayScore): Promise<boolean> {
    const { rows } = await this.pool.query(
      `WITH before AS (SELECT final FROM game_day_scores WHERE experiment_id = $1)
       INSERT INTO game_day_scores (experiment_id, incident_id, detected, time_to_detect_ms, diagnosed_root_cause,
                                    diagnosis_correct, mitigated, time_to_mitigate_ms, undo_used, revert_needed, score, final)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
       ON CONFLICT (experiment_id) DO UPDATE SET
         incident_id = EXCLUDED.incident_id, detected = EXCLUDED.detected, time_to_detect_ms = EXCLUDED.time_to_detect_ms,
         diagnosed_root_cause = EXCLUDED.diagnosed_root_cause, diagnosis_correct = EXCLUDED.diagnosis_correct,
         mitigated = EXCLUDED.mitigated, time_to_mitigate_ms = EXCLUDED.time_to_mitigate_ms, undo_used = EXCLUDED.undo_used,
         revert_needed = EXCLUDED.revert_needed, score = EXCLUDED.score, final = EXCLUDED.final, scored_at = now()
         WHERE NOT game_day_scores.final
       RETURNING (SELECT coalesce(bool_or(final), false) FROM before) AS was_final, final`,
      [
        id,
        s.incidentId,
        s.detected,
        s.timeToDetectMs,
        s.diagnosedRootCause,
        s.diagnosisCorrect,
        s.mitigated,
        s.timeToMitigateMs,
        s.undoUsed,
        s.revertNeeded,
        s.score,
        s.final,
      ],
    );
    const r = rows[0] as { was_final: boolean; final: boolean } | undefined;
    return Boolean(r?.final && !r.was_final);
  }

  /** Runs requested in the period with their scores, newest first (reports, `homeostat chaos list`). */
  async records(since: Date, until: Date, limit = 200): Promise<GameDayRecord[]> {
    const { rows } = await this.pool.query(
      `SELECT c.*, row_to_json(g) AS score
         FROM chaos_experiments c LEFT JOIN game_day_scores g ON g.experiment_id = c.id
        WHERE c.requested_at >= $1 AND c.requested_at <= $2
        ORDER BY c.requested_at DESC LIMIT $3`,
      [since, until, limit],
    );
    return (rows as (Row & { score: Record<string, unknown> | null })[]).map((r) => ({
      experimentId: r.id,
      experiment: r.experiment,
      kind: r.kind,
      target: { cluster: r.cluster, service: r.service },
      state: r.state,
      requestedBy: r.requested_by,
      requestedAt: new Date(r.requested_at),
      guard: r.guard,
      reason: r.reason,
      score: r.score ? toScore(r.score) : null,
    }));
  }

  private async insert(
    client: PoolClient,
    run: NewRun,
    state: ChaosRunState,
    why: { guard: string | null; reason: string | null },
  ): Promise<Row | undefined> {
    const { rows } = await client.query(
      `INSERT INTO chaos_experiments (id, experiment, kind, cluster, service, requested_by, idempotency_key, state,
                                      guard, reason, injection, expected_root_causes, duration_minutes)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
       ON CONFLICT (idempotency_key) DO NOTHING RETURNING *`,
      [
        run.id,
        run.experiment,
        run.kind,
        run.target.cluster,
        run.target.service,
        run.requestedBy,
        run.idempotencyKey,
        state,
        why.guard,
        why.reason,
        run.injection,
        run.expectedRootCauses,
        run.durationMinutes,
      ],
    );
    return rows[0] as Row | undefined;
  }

  private async existing(client: PoolClient, key: string): Promise<Row> {
    const { rows } = await client.query('SELECT * FROM chaos_experiments WHERE idempotency_key = $1', [key]);
    return rows[0] as Row;
  }
}

const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));
const toScore = (g: Record<string, unknown>): GameDayScore => ({
  incidentId: (g.incident_id as string | null) ?? null,
  detected: Boolean(g.detected),
  timeToDetectMs: num(g.time_to_detect_ms),
  diagnosedRootCause: (g.diagnosed_root_cause as string | null) ?? null,
  diagnosisCorrect: Boolean(g.diagnosis_correct),
  mitigated: Boolean(g.mitigated),
  timeToMitigateMs: num(g.time_to_mitigate_ms),
  undoUsed: Boolean(g.undo_used),
  revertNeeded: (g.revert_needed as boolean | null) ?? null,
  score: Number(g.score),
  final: Boolean(g.final),
});

async function audit(
  client: PoolClient,
  actor: string,
  action: string,
  run: Pick<NewRun, 'id' | 'experiment' | 'target' | 'kind'>,
  result: string,
  detail: Record<string, unknown>,
) {
  const inputs = { experimentId: run.id, experiment: run.experiment, kind: run.kind, service: run.target };
  await appendAudit(client, [{ actor, action, inputs, result, detail }]);
}
