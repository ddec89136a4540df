/**
 * What the remediation agents (plan, act, verify, approve) need from storage:
 * steps recorded once by idempotency key, and changes applied atomically with
 * their guards — so a redelivered or concurrent event never acts twice.
 */
import type { ActionParameters } from '../domain/actions.ts';
import type { DiagnosisProposal } from '../domain/diagnosis.ts';
import type { IncidentState } from '../domain/incident.ts';
import type { AuditEntry } from '../domain/knowledge.ts';
import type { IncidentRecord } from '../domain/ports.ts';
import type { Operation, PreState } from '../domain/remediation.ts';
import type { ServiceRef } from '../domain/signal.ts';
import type { CatalogAction } from '../domain/taxonomy.ts';
import type { Envelope } from '../events/envelope.ts';

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
  /** Verification checks claimed so far. */
  checks: number;
  updatedAt: Date;
  detail: Record<string, unknown>;
}

export type NewStep = Omit<
  RemediationStep,
  'idempotencyKey' | 'undone' | 'executedAt' | 'verifyAt' | 'checks' | 'updatedAt' | 'detail'
> & { detail?: Record<string, unknown> };

export interface StepFields {
  snapshot?: PreState;
  executedAt?: Date;
  verifyAt?: Date;
  verifiedAt?: Date;
  undone?: boolean;
  detail?: object;
}

export const idempotencyKey = (incidentId: string, step: number) => `${incidentId}:${step}`;

export type ApprovalDecision = 'approved' | 'rejected' | 'expired';
/** How a decision arrived: a link (Function URL), the CLI (IAM), or the expiry sweep. */
export type ApprovalVia = 'link' | 'cli' | 'expiry';

export interface ApprovalRequest {
  nonce: string;
  incidentId: string;
  step: number;
  bindingHash: string;
  expiresAt: Date;
  /** sha256 of each decision's token; null on requests made before there were two. */
  tokenHashes: { approve: string | null; reject: string | null };
  decision: ApprovalDecision | null;
  /** The deciding principal: an IAM ARN (CLI) or "link holder"; null for an expiry. */
  decidedBy: string | null;
  decidedAt: Date | null;
  decidedVia: ApprovalVia | null;
}

export interface RemediationChange {
  incidentId: string;
  at: Date;
  /** The event being handled: stored with the outbox rows so a redelivery finds what is left to publish. */
  causationId: string;
  /** Guard: the incident is in one of these states (a redelivery finds it moved on). */
  incidentFrom?: readonly IncidentState[];
  /** Guard: record this step (a step already recorded under its key makes the change a duplicate). */
  newStep?: NewStep;
  /** Guard: move this step (a step not in `from` makes the change a duplicate). */
  moveStep?: { key: string; from: readonly StepStatus[]; to: StepStatus; fields?: StepFields };
  /** Guard: claim verification check number `check` of the step (each once, in order). */
  claimCheck?: { key: string; check: number };
  /**
   * Guard: spend an approval request once — a decision before it expires, an
   * expiry (`decision: 'expired'`, by the sweep) only after.
   */
  spendApproval?: {
    nonce: string;
    decision: ApprovalDecision;
    decidedBy: string | null;
    via: ApprovalVia;
  };
  approvalRequest?: {
    nonce: string;
    step: number;
    bindingHash: string;
    expiresAt: Date;
    /** sha256 of the approve and the reject token (the tokens themselves are never stored). */
    tokenHashes: { approve: string; reject: string };
  };
  /** Move the incident through these states, in order (already there: skipped). */
  incidentPath?: IncidentState[];
  /** Release the service's remediation lease held by this incident. */
  releaseLease?: boolean;
  /** The service ran this revision steadily now (a rollback target). */
  steady?: { taskDefinition: string };
  timeline?: { kind: string; detail: Record<string, unknown> }[];
  audit?: Omit<AuditEntry, 'incidentId'>[];
  envelopes?: Envelope[];
}

/** Reads and changes ECS services (adapters/ecs-remediator.ts). */
export interface Remediator {
  /** The service now: desired count, revision, deployment configuration, the named parameters' values. */
  snapshot(ref: ServiceRef, parameterNames: readonly string[]): Promise<PreState>;
  /** Carries the operations out in order; what each one did, in words. */
  apply(ref: ServiceRef, operations: readonly Operation[]): Promise<string[]>;
}

export interface RemediationStore {
  incident(incidentId: string): Promise<IncidentRecord | null>;
  diagnosis(incidentId: string): Promise<DiagnosisProposal | null>;
  /**
   * Fault evidence that reached the incident after its latest diagnosis and
   * that diagnosis never saw, as `kind:name` (rediagnosis.ts); empty when none.
   */
  newEvidence(incidentId: string): Promise<string[]>;
  steps(incidentId: string): Promise<RemediationStep[]>;
  step(key: string): Promise<RemediationStep | null>;
  commit(change: RemediationChange): Promise<'committed' | 'duplicate'>;
  /** Records the pre-state snapshot on an executing step. */
  moveStep(key: string, from: readonly StepStatus[], to: StepStatus, fields?: StepFields): Promise<boolean>;
  acquireLease(ref: ServiceRef, incidentId: string, now: Date, ttlMs: number): Promise<string | null>;
  releaseLease(ref: ServiceRef, incidentId: string): Promise<void>;
  recentActions(ref: ServiceRef, since: Date): Promise<{ action: CatalogAction; at: Date }[]>;
  ineffectiveCount(fingerprint: string, since: Date): Promise<number>;
  /** The incident's newest approval request, decided or not. */
  latestApproval(incidentId: string): Promise<ApprovalRequest | null>;
  approval(nonce: string): Promise<ApprovalRequest | null>;
  /** Undecided requests whose expiry has passed at `now`, oldest first (at most `limit`). */
  expiredApprovals(now: Date, limit: number): Promise<ApprovalRequest[]>;
  pending(causationId: string): Promise<Envelope[]>;
  markPublished(envelopeIds: string[]): Promise<void>;
}
