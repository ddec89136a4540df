/**
 * The diagnosis agent's use-case: an opened incident → evidence from every
 * tool (bounded, gaps recorded) → a diagnosis from the configured diagnoser
 * (offline rules, or Bedrock behind a fallback to them) → recorded with its
 * evidence, cost and an audit entry → diagnosis.completed, and
 * incident.escalated when the evidence is insufficient.
 */
import * as z from 'zod/mini';
import type { Diagnoser, Diagnosis, IncidentBrief, Investigation } from '../domain/diagnosis.ts';
import { InvalidEventError } from '../domain/errors.ts';
import { type EvidenceTool, investigate } from '../domain/evidence.ts';
import type { Clock, EventPublisher, IncidentRecord } from '../domain/ports.ts';
import {
  type DiagnosisCompletedData,
  type DiagnosisRequestedData,
  type DiagnosisRevisedData,
  diagnosisRequestedDataSchema,
  type IncidentEscalatedData,
  type IncidentOpenedData,
  incidentOpenedDataSchema,
} from '../events/catalog.ts';
import { detailTypes } from '../events/detail-types.ts';
import { buildEnvelope, type Envelope, envelopeSchema } from '../events/envelope.ts';
import { describeIssues } from '../events/zod.ts';

export type BeginResult =
  | { kind: 'started'; incident: IncidentRecord }
  | { kind: 'skipped'; reason: string; pending: Envelope[] };

export interface DiagnosisToRecord {
  incident: IncidentRecord;
  investigation: Investigation;
  diagnosis: Diagnosis;
  startedAt: Date;
  completedAt: Date;
  /** The incident.opened event this answers. */
  causationId: string;
  envelopes: Envelope[];
  /** Insufficient evidence: the incident goes to humans. */
  escalate: boolean;
}

export type BeginRevisionResult =
  | { kind: 'started'; incident: IncidentRecord; revision: number }
  | { kind: 'skipped'; reason: string; pending: Envelope[] };

export interface DiagnosisStore {
  /**
   * Claims the incident for diagnosis (open → diagnosing, or resumes one left
   * diagnosing by a failed attempt). Skips an incident already diagnosed —
   * returning what an earlier attempt left unpublished — or no longer open.
   */
  begin(incidentId: string, at: Date): Promise<BeginResult>;
  /** Records the diagnosis, its timeline entry, audit entry and events in one transaction; once per incident. */
  record(input: DiagnosisToRecord): Promise<{ recorded: boolean; pending: Envelope[] }>;
  markPublished(envelopeIds: string[]): Promise<void>;
  /**
   * Claims a live incident for a new diagnosis (it stays `verifying`):
   * skipped when it moved on, or when its diagnosis was already revised
   * after `requestedAt` (a redelivery; its events are returned to publish).
   */
  beginRevision(incidentId: string, requestedAt: Date, causationId: string): Promise<BeginRevisionResult>;
  /** Replaces the diagnosis with revision `revision + 1` (once), with its timeline, audit entry and events. */
  revise(
    input: DiagnosisToRecord & { revision: number },
  ): Promise<{ recorded: boolean; pending: Envelope[] }>;
}

export interface DiagnoseDeps {
  store: DiagnosisStore;
  tools: readonly EvidenceTool[];
  diagnoser: Diagnoser;
  bus: EventPublisher;
  clock: Clock;
  /** Per evidence tool. @default 8 s */
  toolTimeoutMs?: number;
}

export type DiagnoseResult =
  | { outcome: 'diagnosed' | 'duplicate'; incidentId: string; diagnosis: Diagnosis; escalated: boolean }
  | { outcome: 'skipped'; incidentId: string; reason: string };

const source = 'homeostat.diagnose';

const openedEventSchema = z.object({
  detail: z.object({
    ...envelopeSchema.shape,
    type: z.literal(detailTypes.incidentOpened),
    data: incidentOpenedDataSchema,
  }),
});

/** The incident.opened envelope inside an EventBridge event; anything else is rejected with the reasons. */
export function parseOpenedEvent(event: unknown): Envelope<IncidentOpenedData> {
  const parsed = openedEventSchema.safeParse(event);
  if (!parsed.success)
    throw new InvalidEventError('not an incident.opened event', describeIssues(parsed.error));
  return parsed.data.detail as Envelope<IncidentOpenedData>;
}

/** A diagnosis as diagnosis.completed (and diagnosis.revised) carry it. */
function completedData(
  incidentId: string,
  service: DiagnosisCompletedData['service'],
  diagnosis: Diagnosis,
  times: { startedAt: Date; completedAt: Date },
): DiagnosisCompletedData {
  return {
    incidentId,
    service,
    hypotheses: diagnosis.hypotheses,
    recommendedActions: diagnosis.recommendedActions,
    insufficientEvidence: diagnosis.insufficientEvidence,
    mechanism: diagnosis.judgement?.mechanism ?? null,
    fix: diagnosis.judgement?.fix ?? null,
    provider: diagnosis.provider,
    model: diagnosis.model,
    steps: diagnosis.steps,
    tokens: diagnosis.tokens,
    costUsd: diagnosis.costUsd,
    fallbackReason: diagnosis.fallbackReason,
    gaps: diagnosis.gaps,
    startedAt: times.startedAt.toISOString(),
    completedAt: times.completedAt.toISOString(),
  };
}

export function announceDiagnosis(
  opened: Envelope<IncidentOpenedData>,
  diagnosis: Diagnosis,
  times: { startedAt: Date; completedAt: Date },
): Envelope[] {
  const incidentId = opened.data.incidentId;
  const common = { source, time: times.completedAt, incidentId, correlationId: incidentId };
  const completed = buildEnvelope<DiagnosisCompletedData>({
    ...common,
    type: detailTypes.diagnosisCompleted,
    causationId: opened.id,
    data: completedData(incidentId, opened.data.service, diagnosis, times),
  });
  if (!diagnosis.insufficientEvidence) return [completed];
  const missing = diagnosis.gaps.map((g) => `${g.tool} (${g.reason})`).join(', ');
  return [
    completed,
    buildEnvelope<IncidentEscalatedData>({
      ...common,
      type: detailTypes.incidentEscalated,
      causationId: completed.id,
      data: {
        incidentId,
        service: opened.data.service,
        reason: `insufficient evidence to name a root cause${missing ? `; missing: ${missing}` : ''}${seen(diagnosis)}`,
      },
    }),
  ];
}

/** What the investigation did see, quoted for the human an insufficient-evidence escalation reaches. */
function seen(diagnosis: Diagnosis): string {
  const j = diagnosis.judgement;
  if (!j) return '';
  const f = j.facts;
  const parts = [
    j.signatures.length > 0 && `ECS messages: ${j.signatures.map((s) => s.id).join(', ')}`,
    f.startFailure && 'tasks fail before starting',
    f.repeatedCrash && 'tasks crash repeatedly',
    f.memory && `memory ${f.memory}`,
    f.cpu && `CPU ${f.cpu}`,
    f.recentDeployment && `deployed ${f.recentDeployment}`,
  ].filter(Boolean);
  return parts.length > 0 ? `; seen: ${parts.join(', ')}` : '';
}

async function publish(envelopes: Envelope[], deps: Pick<DiagnoseDeps, 'bus' | 'store'>) {
  if (envelopes.length === 0) return;
  await deps.bus.publish(envelopes);
  await deps.store.markPublished(envelopes.map((e) => e.id));
}

const requestedEventSchema = z.object({
  detail: z.object({
    ...envelopeSchema.shape,
    type: z.literal(detailTypes.diagnosisRequested),
    data: diagnosisRequestedDataSchema,
  }),
});

/**
 * The diagnosis agent's second trigger: diagnosis.requested (the plan agent
 * found fault evidence the diagnosis never saw after a failed step) → the
 * same investigation and diagnoser again → the diagnosis replaced as a new
 * revision → diagnosis.revised, from which the next step is planned.
 */
export async function reviseDiagnosis(event: unknown, deps: DiagnoseDeps): Promise<DiagnoseResult> {
  const parsed = requestedEventSchema.safeParse(event);
  if (!parsed.success)
    throw new InvalidEventError('not a diagnosis.requested event', describeIssues(parsed.error));
  const requested = parsed.data.detail as Envelope<DiagnosisRequestedData>;
  const incidentId = requested.data.incidentId;
  const startedAt = deps.clock.now();
  const begun = await deps.store.beginRevision(incidentId, new Date(requested.time), requested.id);
  if (begun.kind === 'skipped') {
    await publish(begun.pending, deps);
    return { outcome: 'skipped', incidentId, reason: begun.reason };
  }
  const { incident } = begun;
  const { investigation, diagnosis, completedAt } = await investigateAndDiagnose(incident, deps);
  const revised = buildEnvelope<DiagnosisRevisedData>({
    source,
    time: completedAt,
    incidentId,
    correlationId: incidentId,
    causationId: requested.id,
    type: detailTypes.diagnosisRevised,
    data: {
      ...completedData(incidentId, incident.service, diagnosis, { startedAt, completedAt }),
      afterStep: requested.data.afterStep,
      revision: begun.revision + 1,
    },
  });
  const { recorded, pending } = await deps.store.revise({
    incident,
    investigation,
    diagnosis,
    startedAt,
    completedAt,
    causationId: requested.id,
    envelopes: [revised],
    escalate: false,
    revision: begun.revision,
  });
  await publish(pending, deps);
  return { outcome: recorded ? 'diagnosed' : 'duplicate', incidentId, diagnosis, escalated: false };
}

/** Every evidence tool (bounded, gaps recorded), then the configured diagnoser. */
async function investigateAndDiagnose(incident: IncidentRecord, deps: DiagnoseDeps) {
  const investigation = await investigate(briefOf(incident), deps.tools, deps.toolTimeoutMs);
  const diagnosis = await deps.diagnoser.diagnose(investigation);
  return { investigation, diagnosis, completedAt: deps.clock.now() };
}

const briefOf = (incident: IncidentRecord): IncidentBrief => ({
  incidentId: incident.id,
  cluster: incident.service.cluster,
  service: incident.service.service,
  title: incident.title,
  fingerprint: incident.fingerprint,
  openedAt: incident.openedAt.toISOString(),
});

/** Either trigger of the diagnosis agent: incident.opened or diagnosis.requested. */
export async function diagnoseEvent(event: unknown, deps: DiagnoseDeps): Promise<DiagnoseResult> {
  const type = (event as { 'detail-type'?: unknown; detail?: { type?: unknown } } | null)?.detail?.type;
  return type === detailTypes.diagnosisRequested
    ? reviseDiagnosis(event, deps)
    : diagnoseIncident(event, deps);
}

export async function diagnoseIncident(event: unknown, deps: DiagnoseDeps): Promise<DiagnoseResult> {
  const opened = parseOpenedEvent(event);
  const incidentId = opened.data.incidentId;
  const startedAt = deps.clock.now();
  const begun = await deps.store.begin(incidentId, startedAt);
  if (begun.kind === 'skipped') {
    await publish(begun.pending, deps);
    return { outcome: 'skipped', incidentId, reason: begun.reason };
  }
  const { incident } = begun;
  const { investigation, diagnosis, completedAt } = await investigateAndDiagnose(incident, deps);
  const envelopes = announceDiagnosis(opened, diagnosis, { startedAt, completedAt });
  const { recorded, pending } = await deps.store.record({
    incident,
    investigation,
    diagnosis,
    startedAt,
    completedAt,
    causationId: opened.id,
    envelopes,
    escalate: diagnosis.insufficientEvidence,
  });
  await publish(pending, deps);
  return {
    outcome: recorded ? 'diagnosed' : 'duplicate',
    incidentId,
    diagnosis,
    escalated: recorded && diagnosis.insufficientEvidence,
  };
}
