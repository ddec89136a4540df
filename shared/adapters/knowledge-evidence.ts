import type { IncidentBrief } from '../domain/diagnosis.ts';
import type { EmbeddingModels } from '../domain/embedding.ts';
import { type AnyFinding, type EvidenceTool, redact } from '../domain/evidence.ts';
import type { Pool } from './database.ts';
import type { PostgresKnowledgeStore } from './knowledge-store.ts';

/** How far back, before the incident opened, the service's signals count as context. */
const signalLookbackMinutes = 60;
const maxSignals = 50;

/**
 * What the perception agent recorded about the service around the incident:
 * alarms, stopped tasks (stop codes and exit codes as ECS reported them),
 * deployments and service actions — including benign ones, which can explain
 * a symptom. Reasons quote the workload: untrusted.
 */
export class SignalsEvidenceTool implements EvidenceTool {
  readonly name = 'signals';

  constructor(private readonly pool: Pool) {}

  async gather(incident: IncidentBrief): Promise<AnyFinding[] | { missing: string }> {
    const since = new Date(Date.parse(incident.openedAt) - signalLookbackMinutes * 60_000);
    const { rows } = await this.pool.query(
      `SELECT kind, name, classification, reason, attributes, occurred_at, occurrences FROM signals
        WHERE cluster = $1 AND service = $2 AND last_seen_at >= $3
        ORDER BY occurred_at DESC, id LIMIT $4`,
      [incident.cluster, incident.service, since.toISOString(), maxSignals],
    );
    if (rows.length === 0) return { missing: 'no signals recorded for the service' };
    const signals = rows.map((r) => ({
      kind: r.kind as string,
      name: r.name as string,
      classification: r.classification as string,
      reason: redact(r.reason as string),
      occurredAt: new Date(r.occurred_at).toISOString(),
      occurrences: Number(r.occurrences),
      attributes: r.attributes as Record<string, unknown>,
    }));
    const faults = signals.filter((s) => s.classification === 'fault').length;
    return [
      {
        kind: 'signals',
        summary: `${signals.length} signals (${faults} faults) in the hour before and since the incident: ${[
          ...new Set(signals.map((s) => s.name)),
        ]
          .slice(0, 8)
          .join(', ')}`,
        facts: { signals },
        untrusted: true,
      },
    ];
  }
}

/**
 * What the knowledge base knows: similar past incidents (and the actions that
 * resolved them) and the runbook sections that match the incident.
 */
export class KnowledgeEvidenceTool implements EvidenceTool {
  readonly name = 'knowledge';

  constructor(
    private readonly store: PostgresKnowledgeStore,
    private readonly embeddings: EmbeddingModels,
  ) {}

  async gather(incident: IncidentBrief): Promise<AnyFinding[] | { missing: string }> {
    const text = `${incident.title} ${incident.service}`;
    const query = await this.embeddings.embedQuery(text);
    const [similar, runbooks] = await Promise.all([
      this.store.similarIncidents(query, { excludeKey: incident.incidentId, limit: 5 }),
      this.store.searchRunbooks(text, query, 3),
    ]);
    const findings: AnyFinding[] = [];
    if (similar.length > 0)
      findings.push({
        kind: 'similar_incidents',
        summary: similar.map((s) => `${s.node.title} (${(1 - s.distance).toFixed(2)})`).join('; '),
        facts: {
          incidents: similar.map((s) => ({
            key: s.node.key,
            title: s.node.title,
            rootCause: typeof s.node.payload.rootCause === 'string' ? s.node.payload.rootCause : null,
            score: Math.round((1 - s.distance) * 1000) / 1000,
            // Each resolved that incident: a rate of one for it; learning keeps the rates across incidents.
            actions: s.resolvedBy.map((action) => ({ action, successRate: 1 })),
          })),
        },
      });
    if (runbooks.length > 0)
      findings.push({
        kind: 'runbooks',
        summary: runbooks.map((r) => r.node.title).join('; '),
        facts: {
          runbooks: runbooks.map((r) => ({
            key: r.node.key,
            title: r.node.title,
            rootCauses: stringList(r.node.payload.categories),
            actions: stringList(r.node.payload.actions),
            excerpt: r.node.content.slice(0, 300),
          })),
        },
      });
    return findings.length > 0 ? findings : { missing: 'no similar incidents or matching runbooks' };
  }
}

const stringList = (value: unknown): string[] =>
  Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
