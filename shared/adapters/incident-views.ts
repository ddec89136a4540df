/**
 * Read models over the loop's tables for people: an incident's story (notify),
 * the incident list and one incident's timeline (CLI), and the report's data.
 */
import type { IncidentState } from '../domain/incident.ts';
import type { IncidentStory } from '../domain/narrative.ts';
import type { ReportIncident } from '../domain/report.ts';
import type { Pool } from './database.ts';

export interface IncidentListItem {
  id: string;
  cluster: string;
  service: string;
  state: IncidentState;
  title: string;
  openedAt: Date;
  closedAt: Date | null;
  rootCause: string | null;
  actions: string[];
  chaosExperimentId: string | null;
}

export interface TimelineEntry {
  at: Date;
  kind: string;
  detail: Record<string, unknown>;
}

const storySql = `
  SELECT i.id, i.cluster, i.service, i.state, i.title, i.opened_at, i.closed_at, i.signal_count,
         i.chaos_experiment_id, d.hypotheses -> 0 AS top, d.evidence, d.provider, d.model,
         d.judgement ->> 'mechanism' AS mechanism, d.judgement ->> 'fix' AS fix,
         (SELECT o.envelope -> 'data' ->> 'reason' FROM outbox o
           WHERE o.envelope ->> 'type' = 'incident.escalated' AND o.envelope ->> 'incidentId' = i.id::text
           ORDER BY o.seq DESC LIMIT 1) AS escalation,
         coalesce(d.input_tokens, 0) AS input_tokens, coalesce(d.output_tokens, 0) AS output_tokens,
         coalesce(d.cost_usd, 0) AS cost_usd,
         l.recurrence, p.content AS pattern,
         coalesce((SELECT json_agg(json_build_object('step', s.step, 'action', s.action, 'mode', s.mode,
                                                     'status', s.status, 'undone', s.undone) ORDER BY s.step)
                     FROM remediation_steps s WHERE s.incident_id = i.id), '[]') AS steps,
         coalesce((SELECT json_agg(json_build_object('action', r.action, 'from', r.from_level, 'to', r.to_level,
                                                     'evidence', r.evidence) ORDER BY r.id)
                     FROM autonomy_recommendations r
                    WHERE r.cluster = i.cluster AND r.service = i.service
                      AND starts_with(r.steps[array_length(r.steps, 1)], i.id::text || ':')), '[]') AS promotions
    FROM incidents i
    LEFT JOIN diagnoses d ON d.incident_id = i.id
    LEFT JOIN incident_learnings l ON l.incident_id = i.id
    LEFT JOIN knowledge_nodes inode ON inode.kind = 'incident' AND inode.key = i.id::text
    LEFT JOIN LATERAL (
      SELECT pn.content FROM knowledge_edges e JOIN knowledge_nodes pn ON pn.id = e.to_id AND pn.kind = 'pattern'
       WHERE e.from_id = inode.id AND e.relation = 'evolves_into' LIMIT 1) p ON true
   WHERE i.id = $1`;

export class PostgresIncidentViews {
  constructor(protected readonly pool: Pool) {}

  async story(incidentId: string): Promise<IncidentStory | null> {
    const { rows } = await this.pool.query(storySql, [incidentId]);
    const r = rows[0];
    if (!r) return null;
    const top = r.top as {
      rootCause: string;
      component: string;
      confidence: number;
      explanation: string;
      evidenceIds: string[];
    } | null;
    const evidence = (r.evidence ?? []) as Array<{
      id: string;
      kind: string;
      source: string;
      summary: string;
      untrusted?: boolean;
    }>;
    const cited = evidence.filter((e) => top?.evidenceIds?.includes(e.id));
    const promotions = r.promotions as Array<{ action: string; from: string; to: string; evidence: number }>;
    return {
      incidentId: r.id,
      cluster: r.cluster,
      service: r.service,
      title: r.title,
      state: r.state,
      openedAt: new Date(r.opened_at),
      closedAt: r.closed_at ? new Date(r.closed_at) : null,
      signalCount: r.signal_count,
      chaosExperimentId: r.chaos_experiment_id,
      diagnosis: top
        ? {
            rootCause: top.rootCause,
            component: top.component,
            confidence: top.confidence,
            explanation: top.explanation,
            evidence: cited.map((e) => e.summary),
            citations: cited.map((e) => ({
              id: e.id,
              kind: e.kind,
              source: e.source,
              summary: e.summary,
              // Older rows lack the flag: whatever a log or an event may have written is untrusted.
              untrusted: e.untrusted ?? true,
            })),
            provider: r.provider,
            model: r.model,
            mechanism: r.mechanism ?? null,
            fix: r.fix ?? null,
          }
        : null,
      escalation: r.escalation ?? null,
      steps: r.steps,
      tokens: { input: Number(r.input_tokens), output: Number(r.output_tokens) },
      costUsd: Number(r.cost_usd),
      learning:
        r.recurrence === null || r.recurrence === undefined
          ? null
          : {
              recurrence: Number(r.recurrence),
              recurring: r.pattern !== null,
              recommendation: r.pattern ?? null,
              promotions: promotions.map(
                (p) =>
                  `${p.action} earned ${p.to} (was ${p.from}; ${p.evidence} right in a row): npx homeostat autonomy set ${r.cluster}/${r.service} ${p.action} ${p.to}`,
              ),
            },
      approval: null,
    };
  }

  async list(filter: { open?: boolean; since?: Date; limit?: number } = {}): Promise<IncidentListItem[]> {
    const { rows } = await this.pool.query(
      `SELECT i.id, i.cluster, i.service, i.state, i.title, i.opened_at, i.closed_at, i.chaos_experiment_id,
              d.hypotheses -> 0 ->> 'rootCause' AS root_cause,
              coalesce((SELECT array_agg(s.action ORDER BY s.step) FROM remediation_steps s WHERE s.incident_id = i.id), '{}') AS actions
         FROM incidents i LEFT JOIN diagnoses d ON d.incident_id = i.id
        WHERE ($1::boolean IS NOT TRUE OR i.closed_at IS NULL)
          AND ($2::timestamptz IS NULL OR i.opened_at >= $2)
        ORDER BY i.opened_at DESC LIMIT $3`,
      [filter.open ?? false, filter.since ?? null, filter.limit ?? 50],
    );
    return rows.map((r) => ({
      id: r.id,
      cluster: r.cluster,
      service: r.service,
      state: r.state,
      title: r.title,
      openedAt: new Date(r.opened_at),
      closedAt: r.closed_at ? new Date(r.closed_at) : null,
      rootCause: r.root_cause,
      actions: r.actions,
      chaosExperimentId: r.chaos_experiment_id,
    }));
  }

  async timeline(incidentId: string): Promise<TimelineEntry[]> {
    const { rows } = await this.pool.query(
      'SELECT at, kind, detail FROM incident_timeline WHERE incident_id = $1 ORDER BY at, id',
      [incidentId],
    );
    return rows.map((r) => ({ at: new Date(r.at), kind: r.kind, detail: r.detail }));
  }

  /** Incidents whose id starts with `prefix` (the CLI accepts a short id). */
  async resolveId(prefix: string): Promise<string[]> {
    const { rows } = await this.pool.query(
      `SELECT id FROM incidents WHERE id::text LIKE $1 || '%' ORDER BY opened_at DESC LIMIT 5`,
      [prefix.toLowerCase().replace(/[^0-9a-f-]/g, '')],
    );
    return rows.map((r) => r.id as string);
  }
}

/** Gauges the heartbeat reports to CloudWatch (the dashboard and the self-alarms read them). */
export async function loopGauges(pool: Pool): Promise<{ openIncidents: number; pendingApprovals: number }> {
  const { rows } = await pool.query(
    `SELECT (SELECT count(*) FROM incidents WHERE closed_at IS NULL) AS open,
            (SELECT count(*) FROM incidents WHERE state = 'awaiting_approval') AS pending`,
  );
  return { openIncidents: Number(rows[0]?.open ?? 0), pendingApprovals: Number(rows[0]?.pending ?? 0) };
}

/** Incidents opened in [since, until] with their steps and timelines, for the report (newest 500). */
export async function reportIncidents(pool: Pool, since: Date, until: Date): Promise<ReportIncident[]> {
  const { rows } = await pool.query(
    `SELECT i.id, i.cluster, i.service, i.title, i.state, i.opened_at, i.closed_at, i.chaos_experiment_id,
            d.hypotheses -> 0 ->> 'rootCause' AS root_cause, d.judgement ->> 'mechanism' AS mechanism,
            coalesce(d.input_tokens + d.output_tokens, 0) AS tokens, coalesce(d.cost_usd, 0) AS cost_usd,
            coalesce((SELECT json_agg(json_build_object('step', s.step, 'action', s.action, 'mode', s.mode,
                                                        'status', s.status, 'undone', s.undone) ORDER BY s.step)
                        FROM remediation_steps s WHERE s.incident_id = i.id), '[]') AS steps,
            coalesce((SELECT json_agg(json_build_object('at', t.at, 'kind', t.kind, 'detail', t.detail) ORDER BY t.at, t.id)
                        FROM (SELECT * FROM incident_timeline t WHERE t.incident_id = i.id ORDER BY t.at, t.id LIMIT 100) t), '[]') AS timeline
       FROM incidents i LEFT JOIN diagnoses d ON d.incident_id = i.id
      WHERE i.opened_at >= $1 AND i.opened_at <= $2
      ORDER BY i.opened_at DESC LIMIT 500`,
    [since, until],
  );
  return rows.map((r) => ({
    id: r.id,
    cluster: r.cluster,
    service: r.service,
    title: r.title,
    state: r.state,
    openedAt: new Date(r.opened_at),
    closedAt: r.closed_at ? new Date(r.closed_at) : null,
    rootCause: r.root_cause,
    mechanism: r.mechanism ?? null,
    tokens: Number(r.tokens),
    costUsd: Number(r.cost_usd),
    chaosExperimentId: r.chaos_experiment_id,
    steps: r.steps,
    timeline: (r.timeline as Array<{ at: string; kind: string; detail: Record<string, unknown> }>).map(
      (t) => ({
        at: new Date(t.at),
        kind: t.kind,
        summary: timelineSummary(t.detail),
      }),
    ),
  }));
}

/** One line of a timeline entry's detail (the fields people read first). */
export function timelineSummary(detail: Record<string, unknown>): string {
  const pick = ['action', 'step', 'outcome', 'state', 'reason', 'name', 'rootCause', 'verdict', 'mode'];
  const parts = pick
    .filter((k) => detail[k] !== undefined && detail[k] !== null)
    .map((k) => `${k}=${String(detail[k])}`);
  return (parts.length ? parts.join(' ') : JSON.stringify(detail)).slice(0, 160);
}
