/** Seeds incidents as the loop leaves them (incident, diagnosis, remediation steps), for read-side tests. */
import { randomUUID } from 'node:crypto';
import type { Pool } from '../adapters/database.ts';

export interface SeedStep {
  action: string;
  mode?: 'auto' | 'observe' | 'approve';
  status: string;
  undone?: boolean;
  detail?: Record<string, unknown>;
}

export interface SeedIncident {
  cluster: string;
  service: string;
  state: string;
  fingerprint?: string;
  title?: string;
  openedAt: Date;
  /** Closed after this many ms (terminal states). */
  closedAfterMs?: number;
  rootCause?: string;
  tokens?: { input: number; output: number };
  costUsd?: number;
  steps?: SeedStep[];
  chaosExperimentId?: string;
}

export async function seedIncident(pool: Pool, s: SeedIncident): Promise<string> {
  const id = randomUUID();
  const closedAt = s.closedAfterMs === undefined ? null : new Date(s.openedAt.getTime() + s.closedAfterMs);
  const fingerprint = s.fingerprint ?? `${s.cluster}/${s.service}:alarm:errors`;
  await pool.query(
    `INSERT INTO incidents (id, cluster, service, state, title, fingerprint, opened_at, updated_at, last_signal_at,
                            closed_at, signal_count, chaos_experiment_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7::timestamptz, coalesce($8::timestamptz, $7::timestamptz), $7::timestamptz, $8::timestamptz, 2, $9)`,
    [
      id,
      s.cluster,
      s.service,
      s.state,
      s.title ?? `${s.service}-errors in ALARM`,
      fingerprint,
      s.openedAt,
      closedAt,
      s.chaosExperimentId ?? null,
    ],
  );
  if (s.rootCause) {
    const diagnosedAt = new Date(s.openedAt.getTime() + 1000);
    await pool.query(
      `INSERT INTO diagnoses (incident_id, provider, model, hypotheses, recommended_actions, insufficient_evidence,
                              evidence, steps, input_tokens, output_tokens, cost_usd, started_at, completed_at)
       VALUES ($1, $2, $3, $4, $5, false, $6, 1, $7, $8, $9, $10, $10)`,
      [
        id,
        s.tokens ? 'bedrock' : 'offline',
        s.tokens ? 'anthropic.claude-test' : null,
        JSON.stringify([
          {
            rootCause: s.rootCause,
            component: s.service,
            confidence: 0.8,
            evidenceIds: ['task:1'],
            explanation: `tasks of ${s.service} show ${s.rootCause}`,
          },
        ]),
        (s.steps ?? []).map((st) => st.action),
        JSON.stringify([
          {
            id: 'task:1',
            kind: 'task',
            source: 'ecs',
            summary: 'a task stopped with exit code 137',
            facts: {},
            untrusted: false,
          },
        ]),
        s.tokens?.input ?? 0,
        s.tokens?.output ?? 0,
        s.costUsd ?? 0,
        diagnosedAt,
      ],
    );
  }
  for (const [i, st] of (s.steps ?? []).entries()) {
    const executedAt = new Date(s.openedAt.getTime() + 2000 + i * 1000);
    await pool.query(
      `INSERT INTO remediation_steps (idempotency_key, incident_id, step, cluster, service, fingerprint, action,
                                      mode, status, policy_version, undone, executed_at, updated_at, detail)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'test', $10, $11, $12, $13)`,
      [
        `${id}:${i + 1}`,
        id,
        i + 1,
        s.cluster,
        s.service,
        fingerprint,
        st.action,
        st.mode ?? 'auto',
        st.status,
        st.undone ?? false,
        executedAt,
        new Date(executedAt.getTime() + 500),
        JSON.stringify(st.detail ?? {}),
      ],
    );
  }
  return id;
}

/** An envelope as EventBridge delivers it to a Lambda target. */
export const asBusEvent = <E extends { source: string; type: string }>(envelope: E) => ({
  source: envelope.source,
  'detail-type': envelope.type,
  detail: envelope,
});
