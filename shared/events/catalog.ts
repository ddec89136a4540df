import * as z from 'zod/mini';
import { incidentStates } from '../domain/incident.ts';
import { mechanisms } from '../domain/mechanisms.ts';
import { catalogActions, rootCauses } from '../domain/taxonomy.ts';
import type { DetailType } from './detail-types.ts';

export { catalogActions, rootCauses } from '../domain/taxonomy.ts';
export { type DetailType, detailTypes } from './detail-types.ts';

/**
 * The event contract of the whole loop: the schema of `data` for every
 * detail-type Homeostat publishes on its bus (inside the DESIGN envelope).
 * CDK publishes each one as a JSON Schema into the EventBridge Schema Registry.
 */

const nonEmpty = () => z.string().check(z.minLength(1));
const timestamp = () => z.iso.datetime({ offset: true });

export const serviceRefSchema = z.object({ cluster: nonEmpty(), service: nonEmpty() });

export const serviceSnapshotSchema = z.object({
  status: z.string(),
  desiredCount: z.int(),
  runningCount: z.int(),
  pendingCount: z.int(),
  taskDefinition: z.nullable(z.string()),
});

const incidentStateSchema = z.enum(incidentStates);

const parameters = () => z.record(z.string(), z.unknown());

export const signalReceivedDataSchema = z.object({
  signalId: nonEmpty(),
  kind: z.enum(['alarm', 'task_stopped', 'deployment', 'service_action', 'app', 'chaos']),
  classification: z.enum(['fault', 'recovery', 'benign']),
  name: z.string(),
  state: z.string(),
  previousState: z.nullable(z.string()),
  reason: z.string(),
  occurredAt: timestamp(),
  service: serviceRefSchema,
  fingerprint: nonEmpty(),
  incidentId: z.nullable(nonEmpty()),
  attributes: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])),
});

export const incidentOpenedDataSchema = z.object({
  incidentId: nonEmpty(),
  service: serviceRefSchema,
  title: z.string(),
  fingerprint: nonEmpty(),
  firstSignalId: nonEmpty(),
  openedAt: timestamp(),
  chaosExperimentId: z.nullable(z.string()),
  serviceSnapshot: z.nullable(serviceSnapshotSchema),
});

export const incidentUpdatedDataSchema = z.object({
  incidentId: nonEmpty(),
  service: serviceRefSchema,
  state: incidentStateSchema,
  signalId: nonEmpty(),
  classification: z.enum(['fault', 'recovery', 'benign']),
  signalCount: z.int(),
});

export const incidentResolvedDataSchema = z.object({
  incidentId: nonEmpty(),
  service: serviceRefSchema,
  resolution: z.enum(['resolved', 'self_resolved']),
  resolvedAt: timestamp(),
  openedAt: timestamp(),
});

export const diagnosisCompletedDataSchema = z.object({
  incidentId: nonEmpty(),
  service: serviceRefSchema,
  hypotheses: z.array(
    z.object({
      rootCause: z.enum(rootCauses),
      component: z.string(),
      confidence: z.number().check(z.gte(0), z.lte(1)),
      evidenceIds: z.array(nonEmpty()),
      explanation: z.string(),
      mechanism: z.optional(z.enum(mechanisms)),
    }),
  ),
  recommendedActions: z.array(z.enum(catalogActions)),
  insufficientEvidence: z.boolean(),
  /** How it fails (the judgement's mechanism, computed from the evidence); absent before mechanisms existed. */
  mechanism: z.optional(z.nullable(z.enum(mechanisms))),
  /** What a human should do when no action can. */
  fix: z.optional(z.nullable(z.string())),
  provider: z.enum(['offline', 'bedrock']),
  model: z.nullable(z.string()),
  /** Model calls made (0 offline). */
  steps: z.int(),
  tokens: z.object({ input: z.int(), output: z.int() }),
  /** Estimated from the configured prices. */
  costUsd: z.number().check(z.gte(0)),
  /** Why a model answer was not used, when the offline diagnosis stands in. */
  fallbackReason: z.nullable(z.string()),
  /** Evidence tools that could not answer. */
  gaps: z.array(z.object({ tool: z.string(), reason: z.string() })),
  startedAt: timestamp(),
  completedAt: timestamp(),
});

/** The plan agent asks for a new diagnosis before the next step: new fault evidence reached the incident. */
export const diagnosisRequestedDataSchema = z.object({
  incidentId: nonEmpty(),
  service: serviceRefSchema,
  /** The step that failed (and was undone); the next one waits for the new diagnosis. */
  afterStep: z.int().check(z.gte(1)),
  /** `kind:name` of each fault signal the diagnosis had not seen. */
  newEvidence: z.array(nonEmpty()),
});

/** A revised diagnosis: diagnosis.completed's fields, the revision and the step it follows. */
export const diagnosisRevisedDataSchema = z.object({
  ...diagnosisCompletedDataSchema.shape,
  afterStep: z.int().check(z.gte(1)),
  revision: z.int().check(z.gte(2)),
});

export const planApprovedDataSchema = z.object({
  incidentId: nonEmpty(),
  service: serviceRefSchema,
  /** The remediation step (1, 2, … per incident); `<incident>:<step>` is its idempotency key. */
  step: z.int().check(z.gte(1)),
  action: z.enum(catalogActions),
  parameters: parameters(),
  /** `observe`: record what would be done, touch nothing. */
  mode: z.enum(['auto', 'observe']),
  autonomy: z.enum(['observe', 'approve', 'auto']),
  policyVersion: nonEmpty(),
  /** Who approved it, when a human did. */
  approvedBy: z.nullable(z.string()),
});

export const approvalRequestedDataSchema = z.object({
  incidentId: nonEmpty(),
  service: serviceRefSchema,
  step: z.int().check(z.gte(1)),
  action: z.enum(catalogActions),
  parameters: parameters(),
  /** Why the plan chose this action, for the person deciding. */
  reason: z.string(),
  expiresAt: timestamp(),
  /** One link per decision, each with its own token (the reject link cannot approve); null without a Function URL. */
  approveUrl: z.nullable(z.string()),
  rejectUrl: z.nullable(z.string()),
});

export const actionExecutedDataSchema = z.object({
  incidentId: nonEmpty(),
  service: serviceRefSchema,
  step: z.int().check(z.gte(1)),
  action: z.enum(catalogActions),
  parameters: parameters(),
  idempotencyKey: nonEmpty(),
  dryRun: z.boolean(),
  /** What each operation did (or would have done, for a dry run). */
  operations: z.array(z.string()),
  executedAt: timestamp(),
  verifyAt: timestamp(),
});

export const verificationDueDataSchema = z.object({
  incidentId: nonEmpty(),
  service: serviceRefSchema,
  step: z.int().check(z.gte(1)),
  idempotencyKey: nonEmpty(),
  action: z.enum(catalogActions),
  checkAt: timestamp(),
  /** 1 for the first check after the action settled, then 2, 3, … */
  attempt: z.int().check(z.gte(1)),
});

export const remediationFailedDataSchema = z.object({
  incidentId: nonEmpty(),
  service: serviceRefSchema,
  step: z.int().check(z.gte(1)),
  action: z.enum(catalogActions),
  outcome: z.enum(['no_effect', 'worse', 'error']),
  reason: z.string(),
  undone: z.boolean(),
});

export const incidentEscalatedDataSchema = z.object({
  incidentId: nonEmpty(),
  reason: z.string(),
  service: serviceRefSchema,
});

export const chaosInjectedDataSchema = z.object({
  experimentId: nonEmpty(),
  experiment: nonEmpty(),
  cluster: nonEmpty(),
  service: nonEmpty(),
  parameters: parameters(),
  revertAt: timestamp(),
});

export const learningRecordedDataSchema = z.object({
  incidentId: nonEmpty(),
  service: serviceRefSchema,
  outcome: z.enum(['resolved', 'self_resolved', 'escalated', 'failed']),
  rootCause: z.nullable(z.string()),
  /** The action that resolved it, when one did. */
  resolvedBy: z.nullable(z.string()),
  timeToResolveMs: z.nullable(z.int().check(z.gte(0))),
  /** Executed steps whose outcome this delivery recorded (0 on a redelivery). */
  outcomesRecorded: z.int().check(z.gte(0)),
  /** Past incidents linked similar_to this one. */
  similarIncidents: z.array(z.string()),
  recurrence: z.object({
    count: z.int().check(z.gte(1)),
    recurring: z.boolean(),
    recommendation: z.nullable(z.string()),
  }),
  /** Autonomy promotions this incident earned (a human decides: homeostat autonomy set). */
  promotions: z.array(
    z.object({
      action: z.enum(catalogActions),
      from: z.enum(['observe', 'approve']),
      to: z.enum(['approve', 'auto']),
      evidence: z.int().check(z.gte(1)),
    }),
  ),
  chaosExperimentId: z.nullable(z.string()),
});

/** Every published detail-type with its data schema and a one-line description (README, registry). */
export const eventCatalog: Record<
  DetailType,
  { data: z.ZodMiniType; publisher: string; description: string }
> = {
  'signal.received': {
    data: signalReceivedDataSchema,
    publisher: 'perceive',
    description:
      'A new signal on a watched service (repeats inside the dedupe window are counted, not republished).',
  },
  'incident.opened': {
    data: incidentOpenedDataSchema,
    publisher: 'perceive',
    description: 'The first fault on a service with no live incident.',
  },
  'incident.updated': {
    data: incidentUpdatedDataSchema,
    publisher: 'perceive',
    description: 'A further signal joined the live incident.',
  },
  'incident.resolved': {
    data: incidentResolvedDataSchema,
    publisher: 'perceive, verify',
    description: 'Closed: repaired and verified, or self-resolved after a quiet period with no action taken.',
  },
  'diagnosis.completed': {
    data: diagnosisCompletedDataSchema,
    publisher: 'diagnose',
    description: 'Ranked hypotheses citing evidence ids, recommended catalog actions.',
  },
  'diagnosis.requested': {
    data: diagnosisRequestedDataSchema,
    publisher: 'plan',
    description:
      'New fault evidence reached a live incident after a failed step: diagnose again before the next.',
  },
  'diagnosis.revised': {
    data: diagnosisRevisedDataSchema,
    publisher: 'diagnose',
    description: 'The incident diagnosed again with the new evidence; the next step is planned from it.',
  },
  'plan.approved': {
    data: planApprovedDataSchema,
    publisher: 'plan, approve',
    description: 'An action passed the catalog and the policy (and a human, when it needed approval).',
  },
  'approval.requested': {
    data: approvalRequestedDataSchema,
    publisher: 'plan',
    description:
      'A human must approve: an approve and a reject link, each token bound to its decision, the step and the exact action, and expiring.',
  },
  'action.executed': {
    data: actionExecutedDataSchema,
    publisher: 'act',
    description: 'An action ran (or was recorded as a dry run) after a pre-state snapshot.',
  },
  'verification.due': {
    data: verificationDueDataSchema,
    publisher: 'act, verify (through a one-time EventBridge Scheduler schedule)',
    description: 'Time to check whether the action worked; delivered to the verify agent when due.',
  },
  'remediation.failed': {
    data: remediationFailedDataSchema,
    publisher: 'verify',
    description: 'The action did not help or made things worse; undone when possible.',
  },
  'incident.escalated': {
    data: incidentEscalatedDataSchema,
    publisher: 'diagnose, plan, act, verify, approve',
    description:
      'Handed to humans: insufficient evidence, policy, the circuit breaker, a rejected approval or an undo that was not possible.',
  },
  'chaos.injected': {
    data: chaosInjectedDataSchema,
    publisher: 'chaos',
    description: 'A chaos experiment injected a fault; incidents it causes record its id.',
  },
  'learning.recorded': {
    data: learningRecordedDataSchema,
    publisher: 'learn',
    description:
      'A closed incident was learned from: outcomes, summary and links in the knowledge graph, recurrence, earned autonomy.',
  },
};

export type SignalReceivedData = z.infer<typeof signalReceivedDataSchema>;
export type IncidentOpenedData = z.infer<typeof incidentOpenedDataSchema>;
export type IncidentUpdatedData = z.infer<typeof incidentUpdatedDataSchema>;
export type IncidentResolvedData = z.infer<typeof incidentResolvedDataSchema>;
export type DiagnosisCompletedData = z.infer<typeof diagnosisCompletedDataSchema>;
export type DiagnosisRequestedData = z.infer<typeof diagnosisRequestedDataSchema>;
export type DiagnosisRevisedData = z.infer<typeof diagnosisRevisedDataSchema>;
export type IncidentEscalatedData = z.infer<typeof incidentEscalatedDataSchema>;
export type PlanApprovedData = z.infer<typeof planApprovedDataSchema>;
export type ApprovalRequestedData = z.infer<typeof approvalRequestedDataSchema>;
export type ActionExecutedData = z.infer<typeof actionExecutedDataSchema>;
export type VerificationDueData = z.infer<typeof verificationDueDataSchema>;
export type RemediationFailedData = z.infer<typeof remediationFailedDataSchema>;
export type LearningRecordedData = z.infer<typeof learningRecordedDataSchema>;
