/** What the learn agent reads and writes in Postgres (Neon): facts, closings, evidence, recommendations. */
import type { AutonomyEvidence, Promotion } from '../domain/learning.ts';
import type { ServiceRef } from '../domain/signal.ts';
import { isRootCause } from '../domain/taxonomy.ts';
import type { Envelope } from '../events/envelope.ts';
import type { IncidentFacts, LearningRow, LearningStore } from '../usecases/learn.ts';
import { type Pool, withTransaction } from './database.ts';
import { pendingOutbox, writeOutbox } from './incident-rows.ts';
import type { PostgresKnowledgeStore } from './knowledge-store.ts';
import { markOutboxPublished } from './outbox-relay.ts';
import type { PostgresRemediationStore } from './remediation-store.ts';

export interface AutonomyRecommendation {
  id: number;
  cluster: string;
  service: string;
  action: string;
  from: string;
  to: string;
  evidence: number;
  steps: string[];
  recommendedAt: Date;
  decision: 'promoted' | 'dismissed' | null;
  decidedBy: string | null;
  decidedAt: Date | null;
}

export const toRecommendation = (r: Record<string, unknown>): AutonomyRecommendation => ({
  id: Number(r.id),
  cluster: r.cluster as string,
  service: r.service as string,
  action: r.action as string,
  from: r.from_level as string,
  to: r.to_level as string,
  evidence: Number(r.evidence),
  steps: r.steps as string[],
  recommendedAt: new Date(r.recommended_at as string),
  decision: (r.decision as AutonomyRecommendation['decision']) ?? null,
  decidedBy: (r.decided_by as string | null) ?? null,
  decidedAt: r.decided_at ? new Date(r.decided_at as string) : null,
});

export class PostgresLearningStore implements LearningStore {
  constructor(
    private readonly pool: Pool,
    private readonly remediation: Pick<PostgresRemediationStore, 'steps'>,
    private readonly knowledge: Pick<PostgresKnowledgeStore, 'recordOutcome'>,
  ) {}

  async facts(incidentId: string): Promise<IncidentFacts | null> {
    const { rows } = await this.pool.query(
      `SELECT i.id, i.cluster, i.service, i.state, i.title, i.fingerprint, i.opened_at, i.closed_at,
              i.chaos_experiment_id, d.hypotheses -> 0 AS top, d.input_tokens, d.output_tokens, d.cost_usd
         FROM incidents i LEFT JOIN diagnoses d ON d.incident_id = i.id
        WHERE i.id = $1`,
      [incidentId],
    );
    const r = rows[0];
    if (!r) return null;
    const top = r.top as { rootCause?: string; component?: string; explanation?: string } | null;
    return {
      id: r.id,
      service: { cluster: r.cluster, service: r.service },
      state: r.state,
      title: r.title,
      fingerprint: r.fingerprint,
      openedAt: new Date(r.opened_at),
      closedAt: r.closed_at ? new Date(r.closed_at) : null,
      chaosExperimentId: r.chaos_experiment_id,
      diagnosis:
        top?.rootCause && isRootCause(top.rootCause)
          ? {
              rootCause: top.rootCause,
              component: top.component ?? '',
              explanation: top.explanation ?? '',
              tokens: { input: Number(r.input_tokens), output: Number(r.output_tokens) },
              costUsd: Number(r.cost_usd),
            }
          : null,
      steps: await this.remediation.steps(incidentId),
    };
  }

  recordOutcome: LearningStore['recordOutcome'] = (outcome) => this.knowledge.recordOutcome(outcome);

  async closings(service: ServiceRef, fingerprint: string, since: Date) {
    const { rows } = await this.pool.query(
      `SELECT id, closed_at FROM incidents
        WHERE cluster = $1 AND service = $2 AND fingerprint = $3 AND closed_at >= $4
        ORDER BY closed_at`,
      [service.cluster, service.service, fingerprint, since],
    );
    return rows.map((r) => ({ incidentId: r.id as string, closedAt: new Date(r.closed_at) }));
  }

  async autonomyEvidence(service: ServiceRef, action: string): Promise<AutonomyEvidence[]> {
    // A dry run is confirmed when the same action, run for real, resolved the same fingerprint
    // or the same root cause (here or on another service).
    const { rows } = await this.pool.query(
      `SELECT s.idempotency_key, s.mode, s.status, coalesce(s.detail ->> 'outcome', '') = 'recovered' AS recovered,
              EXISTS (SELECT 1 FROM outcomes o
                       WHERE o.action = s.action AND o.result = 'resolved'
                         AND (o.fingerprint = s.fingerprint OR o.root_cause = d.hypotheses -> 0 ->> 'rootCause')) AS confirmed,
              s.updated_at
         FROM remediation_steps s LEFT JOIN diagnoses d ON d.incident_id = s.incident_id
        WHERE s.cluster = $1 AND s.service = $2 AND s.action = $3 AND s.mode IN ('observe', 'approve')
        ORDER BY s.updated_at DESC LIMIT 500`,
      [service.cluster, service.service, action],
    );
    return rows.map((r) => ({
      key: r.idempotency_key,
      mode: r.mode,
      status: r.status,
      recovered: r.recovered,
      confirmed: r.confirmed,
      at: new Date(r.updated_at),
    }));
  }

  async recommend(service: ServiceRef, action: string, p: Promotion): Promise<'recommended' | 'exists'> {
    const { rowCount } = await this.pool.query(
      `INSERT INTO autonomy_recommendations (cluster, service, action, from_level, to_level, evidence, steps)
       VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (cluster, service, action, to_level) WHERE decision IS NULL DO NOTHING`,
      [service.cluster, service.service, action, p.from, p.to, p.evidence, p.steps],
    );
    return rowCount ? 'recommended' : 'exists';
  }

  /** The learning row and the learning.recorded announcing it (outbox), in one transaction. */
  async saveLearning(row: LearningRow, announce: Envelope): Promise<'recorded' | 'duplicate'> {
    return withTransaction(this.pool, async (client) => {
      const { rowCount } = await client.query(
        `INSERT INTO incident_learnings (incident_id, cluster, service, fingerprint, outcome, root_cause,
                                       resolved_by, time_to_resolve_ms, recurrence)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
       ON CONFLICT (incident_id) DO NOTHING`,
        [
          row.incidentId,
          row.service.cluster,
          row.service.service,
          row.fingerprint,
          row.outcome,
          row.rootCause,
          row.resolvedBy,
          row.timeToResolveMs,
          row.recurrence,
        ],
      );
      await writeOutbox(client, [
        { causationId: announce.causationId ?? row.incidentId, envelope: announce },
      ]);
      return rowCount ? 'recorded' : 'duplicate';
    });
  }

  pending(causationId: string): Promise<Envelope[]> {
    return pendingOutbox(this.pool, causationId);
  }

  async markPublished(envelopeIds: string[]): Promise<void> {
    await markOutboxPublished(this.pool, envelopeIds);
  }
}
