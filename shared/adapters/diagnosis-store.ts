import { claimedFault } from '../domain/diagnosis.ts';
import { InvalidEventError } from '../domain/errors.ts';
import { assertTransition } from '../domain/incident.ts';
import { redactDeep } from '../domain/redaction.ts';
import type { Envelope } from '../events/envelope.ts';
import type {
  BeginResult,
  BeginRevisionResult,
  DiagnosisStore,
  DiagnosisToRecord,
} from '../usecases/diagnose.ts';
import { appendAudit } from './audit-log.ts';
import { type Pool, type PoolClient, withTransaction } from './database.ts';
import { type IncidentRow, pendingOutbox, toRecord, writeOutbox, writeTimeline } from './incident-rows.ts';

const actor = 'homeostat.diagnose';

/** A diagnosis' own columns, in table order: provider … fallback_reason, judgement (first answer and revisions alike). */
function columns({ diagnosis, investigation }: DiagnosisToRecord): unknown[] {
  return [
    diagnosis.provider,
    diagnosis.model,
    JSON.stringify(diagnosis.hypotheses),
    diagnosis.recommendedActions,
    diagnosis.insufficientEvidence,
    JSON.stringify(redactDeep(investigation.evidence)),
    JSON.stringify(redactDeep(diagnosis.gaps)),
    diagnosis.steps,
    diagnosis.tokens.input,
    diagnosis.tokens.output,
    diagnosis.costUsd,
    diagnosis.fallbackReason,
    diagnosis.judgement ? JSON.stringify(diagnosis.judgement) : null,
  ];
}

/** Diagnoses in Postgres, written with the incident's state, timeline, audit log and outbox. */
export class PostgresDiagnosisStore implements DiagnosisStore {
  constructor(private readonly pool: Pool) {}

  async begin(incidentId: string, at: Date): Promise<BeginResult> {
    return withTransaction(this.pool, async (client) => {
      const { rows } = await client.query<IncidentRow>('SELECT * FROM incidents WHERE id = $1 FOR UPDATE', [
        incidentId,
      ]);
      const row = rows[0];
      if (!row) throw new InvalidEventError(`incident ${incidentId} does not exist`);
      const done = await client.query('SELECT 1 FROM diagnoses WHERE incident_id = $1', [incidentId]);
      if (done.rows.length > 0)
        return {
          kind: 'skipped',
          reason: 'already diagnosed',
          pending: await this.unpublished(client, incidentId),
        };
      if (row.state === 'diagnosing') return { kind: 'started', incident: toRecord(row) };
      if (row.state !== 'open') return { kind: 'skipped', reason: `incident is ${row.state}`, pending: [] };
      assertTransition(row.state, 'diagnosing');
      const moved = await client.query<IncidentRow>(
        `UPDATE incidents SET state = 'diagnosing', version = version + 1, updated_at = now()
          WHERE id = $1 RETURNING *`,
        [incidentId],
      );
      await writeTimeline(client, [
        { incidentId, at, kind: 'state:diagnosing', detail: { from: row.state } },
      ]);
      return { kind: 'started', incident: toRecord(moved.rows[0] as IncidentRow) };
    });
  }

  async record(input: DiagnosisToRecord): Promise<{ recorded: boolean; pending: Envelope[] }> {
    const { incident, completedAt } = input;
    return withTransaction(this.pool, async (client) => {
      const inserted = await client.query(
        `INSERT INTO diagnoses (incident_id, provider, model, hypotheses, recommended_actions,
                                insufficient_evidence, evidence, gaps, steps, input_tokens, output_tokens,
                                cost_usd, fallback_reason, judgement, started_at, completed_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
         ON CONFLICT (incident_id) DO NOTHING RETURNING incident_id`,
        [incident.id, ...columns(input), input.startedAt.toISOString(), completedAt.toISOString()],
      );
      // Another attempt recorded it first and publishes its own events.
      if (inserted.rows.length === 0) return { recorded: false, pending: [] };
      await this.trail(client, input, 1);
      let envelopes = input.envelopes;
      if (input.escalate) {
        const escalated = await this.escalate(client, incident.id, completedAt);
        // The incident moved on meanwhile (self-resolved, say): nothing to hand over.
        if (!escalated) envelopes = envelopes.filter((e) => e.type !== 'incident.escalated');
      }
      await writeOutbox(
        client,
        envelopes.map((envelope) => ({ causationId: envelope.causationId ?? input.causationId, envelope })),
      );
      return { recorded: true, pending: envelopes };
    });
  }

  /** The timeline entry and audit row every diagnosis leaves, first or revised. */
  private async trail(client: PoolClient, input: DiagnosisToRecord, revision: number) {
    const { incident, diagnosis, investigation, completedAt } = input;
    const top = diagnosis.hypotheses[0] ?? null;
    const claim = claimedFault(diagnosis);
    await writeTimeline(client, [
      {
        incidentId: incident.id,
        at: completedAt,
        kind: 'diagnosis',
        detail: {
          provider: diagnosis.provider,
          model: diagnosis.model,
          rootCause: top?.rootCause ?? null,
          confidence: top?.confidence ?? null,
          claimsFault: claim !== null,
          insufficientEvidence: diagnosis.insufficientEvidence,
          recommendedActions: diagnosis.recommendedActions,
          gaps: diagnosis.gaps.map((g) => g.tool),
          revision,
          mechanism: diagnosis.judgement?.mechanism ?? null,
          tokens: diagnosis.tokens,
          costUsd: diagnosis.costUsd,
        },
      },
    ]);
    const inputs = {
      incidentId: incident.id,
      evidenceIds: investigation.evidence.map((e) => e.id),
      gaps: redactDeep(diagnosis.gaps),
      provider: diagnosis.provider,
      model: diagnosis.model,
      revision,
    };
    await appendAudit(client, [
      {
        actor,
        action: 'diagnose',
        incidentId: incident.id,
        inputs,
        result: diagnosis.insufficientEvidence ? 'insufficient_evidence' : (top?.rootCause ?? 'none'),
        detail: {
          hypotheses: diagnosis.hypotheses.map((h) => ({
            rootCause: h.rootCause,
            confidence: h.confidence,
          })),
          recommendedActions: diagnosis.recommendedActions,
          steps: diagnosis.steps,
          tokens: diagnosis.tokens,
          costUsd: diagnosis.costUsd,
          fallbackReason: diagnosis.fallbackReason,
        },
      },
    ]);
  }

  async beginRevision(
    incidentId: string,
    requestedAt: Date,
    causationId: string,
  ): Promise<BeginRevisionResult> {
    return withTransaction(this.pool, async (client) => {
      const { rows } = await client.query<IncidentRow>('SELECT * FROM incidents WHERE id = $1 FOR UPDATE', [
        incidentId,
      ]);
      const row = rows[0];
      if (!row) throw new InvalidEventError(`incident ${incidentId} does not exist`);
      const d = await client.query(
        'SELECT revision, coalesce(revised_at, completed_at) AS as_of FROM diagnoses WHERE incident_id = $1',
        [incidentId],
      );
      const diagnosis = d.rows[0] as { revision: number; as_of: Date } | undefined;
      if (!diagnosis) throw new InvalidEventError(`incident ${incidentId} has no diagnosis to revise`);
      if (new Date(diagnosis.as_of).getTime() >= requestedAt.getTime())
        return {
          kind: 'skipped',
          reason: 'already revised',
          pending: await pendingOutbox(client, causationId),
        };
      if (row.state !== 'verifying')
        return { kind: 'skipped', reason: `incident is ${row.state}`, pending: [] };
      return { kind: 'started', incident: toRecord(row), revision: diagnosis.revision };
    });
  }

  async revise(
    input: DiagnosisToRecord & { revision: number },
  ): Promise<{ recorded: boolean; pending: Envelope[] }> {
    const { incident, completedAt } = input;
    return withTransaction(this.pool, async (client) => {
      const updated = await client.query(
        `UPDATE diagnoses SET provider = $3, model = $4, hypotheses = $5, recommended_actions = $6,
                insufficient_evidence = $7, evidence = $8, gaps = $9, steps = steps + $10,
                input_tokens = input_tokens + $11, output_tokens = output_tokens + $12, cost_usd = cost_usd + $13,
                fallback_reason = $14, judgement = $15, revision = revision + 1, revised_at = $16
          WHERE incident_id = $1 AND revision = $2 RETURNING incident_id`,
        [incident.id, input.revision, ...columns(input), completedAt.toISOString()],
      );
      // Another attempt revised it first and publishes its own events.
      if (updated.rows.length === 0) return { recorded: false, pending: [] };
      await this.trail(client, input, input.revision + 1);
      await writeOutbox(
        client,
        input.envelopes.map((envelope) => ({
          causationId: envelope.causationId ?? input.causationId,
          envelope,
        })),
      );
      return { recorded: true, pending: input.envelopes };
    });
  }

  async markPublished(envelopeIds: string[]): Promise<void> {
    await this.pool.query(
      'UPDATE outbox SET published_at = now() WHERE id = ANY($1) AND published_at IS NULL',
      [envelopeIds],
    );
  }

  private async escalate(client: PoolClient, incidentId: string, at: Date): Promise<boolean> {
    const { rows } = await client.query(
      `UPDATE incidents SET state = 'escalated', version = version + 1, updated_at = now(), closed_at = $2
        WHERE id = $1 AND state = 'diagnosing' RETURNING id`,
      [incidentId, at.toISOString()],
    );
    if (rows.length === 0) return false;
    await writeTimeline(client, [
      {
        incidentId,
        at,
        kind: 'state:escalated',
        detail: { from: 'diagnosing', reason: 'insufficient_evidence' },
      },
    ]);
    return true;
  }

  private async unpublished(client: PoolClient, incidentId: string): Promise<Envelope[]> {
    const { rows } = await client.query(
      `SELECT envelope FROM outbox
        WHERE published_at IS NULL AND envelope->>'source' = $1 AND envelope->>'incidentId' = $2
        ORDER BY seq`,
      [actor, incidentId],
    );
    return rows.map((r) => r.envelope as Envelope);
  }
}
