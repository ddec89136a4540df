/**
 * Diagnosis: the evidence an investigation gathered, the hypotheses drawn
 * from it, and the validator every hypothesis must pass — whoever proposed it
 * (the deterministic rules or a model). Pure.
 */
import { isMechanism, type Mechanism } from './mechanisms.ts';
import { type CatalogAction, isCatalogAction, isRootCause, type RootCause } from './taxonomy.ts';

export const evidenceKinds = [
  'service',
  'service_events',
  'deployments',
  'task_definition_diff',
  'stopped_tasks',
  'metrics',
  'logs',
  'signals',
  'similar_incidents',
  'runbooks',
] as const;
export type EvidenceKind = (typeof evidenceKinds)[number];

export interface StoppedTask {
  taskId: string;
  stopCode: string;
  stoppedReason: string;
  exitCodes: number[];
  containerReasons: string[];
  stoppedAt: string | null;
}

export interface DeploymentFact {
  id: string;
  taskDefinition: string;
  status: string;
  rolloutState: string | null;
  /** Minutes between the deployment's start and the incident's first signal (negative: after). */
  minutesBeforeIncident: number | null;
  /** The deployment that created the service: not a change to a working service. */
  initial: boolean;
}

export interface TaskDefinitionDiff {
  from: string;
  to: string;
  image: { from: string; to: string } | null;
  memory: { from: number | null; to: number | null } | null;
  cpu: { from: number | null; to: number | null } | null;
  command: { from: string[]; to: string[] } | null;
  /** Volumes mounted into the essential container (`volume:containerPath`); absent in older diffs. */
  mounts?: { from: string[]; to: string[] } | null;
  /** Names only: values may be secrets. */
  environment: { added: string[]; removed: string[]; changed: string[] };
}

/** Facts per evidence kind: what the rules read. Text from the workload is untrusted data. */
export interface EvidenceFacts {
  service: {
    status: string;
    desiredCount: number;
    runningCount: number;
    pendingCount: number;
    taskDefinition: string | null;
  };
  service_events: { messages: string[] };
  deployments: { deployments: DeploymentFact[] };
  task_definition_diff: TaskDefinitionDiff;
  stopped_tasks: { tasks: StoppedTask[] };
  /** One value per minute, oldest first, per metric name. */
  metrics: { series: Record<string, number[]> };
  /** Error lines (and reconnections after them), newest first. */
  logs: { logGroup: string; lines: string[] };
  signals: {
    signals: {
      kind: string;
      name: string;
      classification: string;
      reason: string;
      occurredAt: string;
      /** The same symptom again within the dedupe window counts here, not as a new signal. */
      occurrences: number;
      attributes: Record<string, unknown>;
    }[];
  };
  similar_incidents: {
    incidents: {
      key: string;
      title: string;
      rootCause: string | null;
      score: number;
      actions: { action: string; successRate: number }[];
    }[];
  };
  runbooks: {
    runbooks: { key: string; title: string; rootCauses: string[]; actions: string[]; excerpt: string }[];
  };
}

export interface Evidence<K extends EvidenceKind = EvidenceKind> {
  /** Stable within the investigation: `<kind>:<n>`. */
  id: string;
  kind: K;
  /** The tool that produced it. */
  source: string;
  /** One line a human (or a model) reads first. */
  summary: string;
  facts: EvidenceFacts[K];
  /** True when it carries text written by the workload or its users (logs, events): data, never instructions. */
  untrusted: boolean;
}

/** A tool that could not answer: the investigation goes on and says so. */
export interface EvidenceGap {
  tool: string;
  reason: string;
}

export interface IncidentBrief {
  incidentId: string;
  cluster: string;
  service: string;
  title: string;
  fingerprint: string;
  openedAt: string;
}

export interface Investigation {
  incident: IncidentBrief;
  evidence: Evidence[];
  gaps: EvidenceGap[];
}

export interface Hypothesis {
  rootCause: RootCause;
  component: string;
  confidence: number;
  evidenceIds: string[];
  explanation: string;
  /** How it fails, one level finer than the root cause (mechanisms.ts). */
  mechanism?: Mechanism;
}

/**
 * Facts the effect model reads, computed by code from the evidence (never
 * taken from a model's answer): what each catalog action can or cannot change.
 */
export interface JudgementFacts {
  /** Tasks stopped before the application ran (TaskFailedToStart, CannotPull/Start/CreateContainer, ResourceInitializationError). */
  startFailure: boolean;
  /** Tasks exited non-zero again and again (ECS already replaces each). */
  repeatedCrash: boolean;
  /** The scheduler could not place tasks. */
  placementFailure: boolean;
  /** Memory over the incident's window: steady growth, pinned at the ceiling, low, or unremarkable. */
  memory: 'growing' | 'at_ceiling' | 'low' | 'normal' | null;
  /** Peak memory utilisation in the window, %. */
  memoryPeak: number | null;
  /** Service CPU over the window. */
  cpu: 'high' | 'flat_or_falling' | 'normal' | null;
  /** Response time at least twice its baseline. */
  latencyRising: boolean;
  /** Requests at least twice their baseline. */
  demandSurge: boolean;
  /** The workload reports a dependency refusing, timing out or throttling. */
  dependencyErrors: boolean;
  /** A dependency rejects the service's credential. */
  credentialRejected: boolean;
  /** `family:revision` deployed shortly before the symptoms (not the service's first deployment). */
  recentDeployment: string | null;
  /** A rollout failed (or the circuit breaker rolled it back). */
  failedRollout: boolean;
  /** What the running revision changed against the previous one: image, memory, cpu, command, environment, mounts. */
  revisionChanges: string[];
  /** Errors rose after the deployment against their level before it (null: no deploy or no error series). */
  errorsRoseAfterDeploy: boolean | null;
  /** Stops that are not failures: SIGKILL at shutdown, Spot interruption, platform maintenance. */
  benignStops: number;
  /** Stops that are failures (not ECS's or a person's, not benign), counting repeats. */
  failedStops: number;
  /** Tasks pending while the service runs below its desired count: placement is already behind. */
  tasksPending: boolean;
  /**
   * Alarms on a metric that counts failures users see (5XX, errors, faults, unhealthy hosts) still
   * in ALARM — and, where the series was read, still counting — as `name (metric)`. A service whose
   * tasks all run is not healthy while these fire.
   */
  userErrorsFiring: string[];
}

/** The mechanism the evidence shows, what it rests on, and the human fix. */
export interface Judgement {
  mechanism: Mechanism | null;
  /** Evidence the mechanism rests on. */
  evidenceIds: string[];
  /** Catalog signatures that matched (signatures.ts), with the evidence they matched in. */
  signatures: { id: string; evidenceId: string; source: string }[];
  facts: JudgementFacts;
  /** What a human should do when no action can (the matched signature's fix, else the mechanism's). */
  fix: string | null;
  /** Stop reasons and service events no signature or rule explained (at most 3, truncated), quoted to humans. */
  unexplained?: string[];
}

export interface DiagnosisProposal {
  hypotheses: Hypothesis[];
  recommendedActions: CatalogAction[];
  insufficientEvidence: boolean;
  /** Computed from the evidence by code; absent on diagnoses recorded before mechanisms existed. */
  judgement?: Judgement;
}

export interface TokenUsage {
  input: number;
  output: number;
}

/**
 * Why the offline rules answered instead of a model, as a metric dimension and a log field:
 * - `access_denied`: the model refused this account or role (IAM, model access not granted, use-case form);
 * - `throttled`: over the account's quota after the SDK's retries;
 * - `timeout`: the model or the incident's wall-clock budget ran out;
 * - `budget`: the incident's step or token budget was spent;
 * - `unavailable`: Bedrock failed (5xx, model not ready, the network);
 * - `rejected`: Bedrock refused the request as made (validation: a wrong model id, say);
 * - `invalid_answer`: the model's answers failed validation twice, or were cut off;
 * - `circuit_open`: recent calls failed, Bedrock is left alone for a while.
 */
export const fallbackCauses = [
  'access_denied',
  'throttled',
  'timeout',
  'budget',
  'unavailable',
  'rejected',
  'invalid_answer',
  'circuit_open',
] as const;
export type FallbackCause = (typeof fallbackCauses)[number];

export interface Diagnosis extends DiagnosisProposal {
  provider: 'offline' | 'bedrock';
  /** The model whose answer was accepted; null for the offline provider. */
  model: string | null;
  /** Model calls made (0 offline). */
  steps: number;
  tokens: TokenUsage;
  costUsd: number;
  /** Why a model answer was not used, when the offline result stands in for it. */
  fallbackReason: string | null;
  /** The fallback's category; absent when no model was asked, and on diagnoses read back from the store. */
  fallbackCause?: FallbackCause;
  gaps: EvidenceGap[];
}

/** Who answered a diagnosis: a model (by id), or the offline rules and why (`configured`: no model is configured). */
export type AnsweredBy =
  | { answeredBy: 'bedrock'; model: string }
  | { answeredBy: 'offline'; reason: FallbackCause | 'configured'; detail: string | null };

/** Who answered `diagnosis`, for the log line and the metric that say so. */
export function answeredBy(diagnosis: Diagnosis): AnsweredBy {
  if (diagnosis.provider === 'bedrock' && diagnosis.model)
    return { answeredBy: 'bedrock', model: diagnosis.model };
  return {
    answeredBy: 'offline',
    reason: diagnosis.fallbackCause ?? 'configured',
    detail: diagnosis.fallbackReason,
  };
}

/** Top hypotheses below this confidence do not count as a claim of a fault. */
export const claimThreshold = 0.5;

const maxExplanation = 1_000;
const maxHypotheses = 5;

export type Validation = { ok: true; proposal: DiagnosisProposal } | { ok: false; problems: string[] };

/**
 * Checks a proposal (from a model, so: any JSON) against the taxonomy, the
 * action catalog and this investigation's evidence ids. Every fault
 * hypothesis must cite evidence that exists here; an answer with no
 * hypotheses must say the evidence is insufficient.
 */
export function validateProposal(raw: unknown, evidenceIds: ReadonlySet<string>): Validation {
  const problems: string[] = [];
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
    return { ok: false, problems: ['the diagnosis must be a JSON object'] };
  const input = raw as Record<string, unknown>;
  const hypotheses: Hypothesis[] = [];
  const list = Array.isArray(input.hypotheses) ? input.hypotheses : null;
  if (!list) problems.push('hypotheses must be an array');
  for (const [i, item] of (list ?? []).slice(0, maxHypotheses).entries()) {
    const h = (typeof item === 'object' && item !== null ? item : {}) as Record<string, unknown>;
    const where = `hypotheses[${i}]`;
    const rootCause = typeof h.rootCause === 'string' ? h.rootCause : '';
    if (!isRootCause(rootCause)) problems.push(`${where}.rootCause "${rootCause}" is not in the taxonomy`);
    const confidence = typeof h.confidence === 'number' ? h.confidence : Number.NaN;
    if (!(confidence >= 0 && confidence <= 1))
      problems.push(`${where}.confidence must be a number from 0 to 1`);
    const cited = Array.isArray(h.evidenceIds)
      ? h.evidenceIds.filter((e): e is string => typeof e === 'string')
      : [];
    const unknown = cited.filter((id) => !evidenceIds.has(id));
    if (unknown.length > 0)
      problems.push(`${where} cites evidence that does not exist: ${unknown.join(', ')}`);
    if (rootCause !== 'no_fault' && cited.length === 0) problems.push(`${where} cites no evidence`);
    const mechanism = h.mechanism === undefined || h.mechanism === null ? undefined : h.mechanism;
    if (mechanism !== undefined && !isMechanism(mechanism))
      problems.push(`${where}.mechanism ${JSON.stringify(mechanism)} is not a known mechanism`);
    const component = typeof h.component === 'string' ? h.component.slice(0, 200) : '';
    const explanation = typeof h.explanation === 'string' ? h.explanation.slice(0, maxExplanation) : '';
    if (isRootCause(rootCause) && confidence >= 0 && confidence <= 1 && unknown.length === 0)
      hypotheses.push({
        rootCause,
        component,
        confidence,
        evidenceIds: [...new Set(cited)],
        explanation,
        ...(isMechanism(mechanism) ? { mechanism } : {}),
      });
  }
  const actions = Array.isArray(input.recommendedActions) ? input.recommendedActions : null;
  if (!actions) problems.push('recommendedActions must be an array');
  const recommendedActions: CatalogAction[] = [];
  for (const action of actions ?? []) {
    if (typeof action === 'string' && isCatalogAction(action)) {
      if (!recommendedActions.includes(action)) recommendedActions.push(action);
    } else problems.push(`recommended action ${JSON.stringify(action)} is not in the action catalog`);
  }
  if (typeof input.insufficientEvidence !== 'boolean')
    problems.push('insufficientEvidence must be a boolean');
  const insufficientEvidence = input.insufficientEvidence === true;
  if (!insufficientEvidence && hypotheses.length === 0 && problems.length === 0)
    problems.push('give at least one hypothesis, or set insufficientEvidence');
  if (problems.length > 0) return { ok: false, problems };
  hypotheses.sort((a, b) => b.confidence - a.confidence);
  return { ok: true, proposal: { hypotheses, recommendedActions, insufficientEvidence } };
}

/** The proposal's main claim: its top hypothesis, unless it is no_fault or too unsure to count. */
export function claimedFault(proposal: DiagnosisProposal): Hypothesis | null {
  const top = proposal.hypotheses[0];
  if (!top || proposal.insufficientEvidence || top.rootCause === 'no_fault') return null;
  return top.confidence >= claimThreshold ? top : null;
}

/** Two top hypotheses with different causes and close confidence: the answer is not settled. */
export function isConflicted(proposal: DiagnosisProposal, margin = 0.15): boolean {
  const [first, second] = proposal.hypotheses;
  return Boolean(
    first && second && first.rootCause !== second.rootCause && first.confidence - second.confidence < margin,
  );
}

/** Diagnoses an investigation: the offline rules, or a model behind a fallback to them. */
export interface Diagnoser {
  diagnose(investigation: Investigation): Promise<Diagnosis>;
}
