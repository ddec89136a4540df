/** Ports the use-cases depend on. Adapters in shared/adapters implement them. */
import type { Envelope } from '../events/envelope.ts';
import type { CorrelationContext, CorrelationSettings, Decision, IncidentState } from './incident.ts';
import type { Autonomy } from './policy.ts';
import type { ServiceRef, ServiceSnapshot, Signal } from './signal.ts';
import type { ServiceDeployment } from './steady-revision.ts';
import type { CatalogAction } from './taxonomy.ts';

export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/** Read access to the ECS control plane. */
export interface EcsServiceReader {
  /** The service's current state, or null when ECS does not know it. */
  describeService(ref: ServiceRef): Promise<ServiceSnapshot | null>;
  /** The service's deployments as ECS lists them now, or null when ECS does not know the service. */
  deployments(ref: ServiceRef): Promise<ServiceDeployment[] | null>;
}

/** Tags on a CloudWatch alarm (homeostat:cluster / homeostat:service name its service). */
export interface AlarmTagReader {
  tagsOf(alarmArn: string): Promise<Record<string, string>>;
}

export interface EventPublisher {
  /** Publishes in order; throws if any envelope was not accepted. */
  publish(envelopes: readonly Envelope[]): Promise<void>;
}

/** A delivery Homeostat will not process (malformed): kept with the reason so nothing is lost. */
export interface RejectedEvent {
  reason: string;
  issues: string[];
  /** The queue message it came in, when it came from a queue. */
  messageId: string | null;
  /** The delivery as received. */
  body: string;
}

/** Where rejected deliveries go (the agent's dead-letter queue). */
export interface DeadLetterSink {
  reject(rejected: RejectedEvent): Promise<void>;
}

/** Operational counters (EMF metrics in Lambda). */
export interface Counters {
  increment(name: string, dimensions?: Record<string, string>): void;
}

export interface IncidentRecord {
  id: string;
  service: ServiceRef;
  state: IncidentState;
  version: number;
  title: string;
  fingerprint: string;
  openedAt: Date;
  lastSignalAt: Date;
  signalCount: number;
  chaosExperimentId: string | null;
  serviceSnapshot: ServiceSnapshot | null;
}

/** What recording a signal did. */
export type Applied =
  | { kind: 'redelivery' }
  | { kind: 'repeat'; signalId: string; incidentId: string | null; occurrences: number }
  | { kind: 'opened'; incident: IncidentRecord }
  | { kind: 'attached'; incident: IncidentRecord; recovery: boolean }
  | { kind: 'suppressed'; reason: 'benign' | 'recovery_without_incident' };

export interface IngestRequest {
  /** Its id is the source event's id: the delivery ledger key. */
  signal: Signal;
  service: ServiceRef;
  fingerprint: string;
  snapshot: ServiceSnapshot | null;
  /** Chooses what to do once the store has read the service's context inside its transaction. */
  decide(context: CorrelationContext): Decision;
  /** The events announcing what was applied; stored in the outbox in the same transaction. */
  announce(applied: Applied): Envelope[];
}

export interface IngestResult {
  applied: Applied;
  /** Envelopes still to publish (for a redelivery: whatever an earlier attempt left unpublished). */
  pending: Envelope[];
}

export interface WatchedServiceRecord extends ServiceRef {
  alarmPrefixes: string[];
  allowedActions: string[];
  minTasks: number;
  maxTasks: number;
  /** Autonomy for the service and per action; unset levels fall back to the stack's default. */
  autonomy?: { default?: Autonomy; perAction?: Partial<Record<CatalogAction, Autonomy>> };
  /** The SSM parameter switch_to_fallback flips, and the value that turns the fallback on. */
  fallback?: { parameterName: string; value: string } | null;
  /** One-off maintenance task definitions run_task may start. */
  maintenanceTasks?: string[];
  /** Secrets rotate_secret_and_redeploy may rotate. */
  secrets?: string[];
}

/** The knowledge base as the perception agent sees it. */
export interface PerceptionStore {
  watchedService(ref: ServiceRef): Promise<WatchedServiceRecord | null>;
  /** The watched service whose alarm prefix matches this alarm name (longest prefix wins). */
  serviceForAlarmName(alarmName: string): Promise<ServiceRef | null>;
  /**
   * Records deliveries in order, atomically as a batch: ledger, signals,
   * incidents, timeline and outbox. One result per request, in order.
   */
  ingestBatch(requests: readonly IngestRequest[]): Promise<IngestResult[]>;
  markPublished(envelopeIds: string[]): Promise<void>;
  /**
   * Notes that the service ran `taskDefinition` (`family:revision`) steadily at `at`: a
   * rollback target once it has stayed steady long enough. Idempotent; an earlier or
   * repeated time never shortens the recorded steady period.
   */
  recordSteady(ref: ServiceRef, taskDefinition: string, at: Date): Promise<void>;
  /**
   * Moves an incident to `to` if it is still at `expectedVersion` and the state
   * machine allows it; records the move on the timeline. Throws
   * IllegalTransitionError or ConcurrencyConflictError otherwise.
   */
  transition(
    incidentId: string,
    expectedVersion: number,
    to: IncidentState,
    detail?: object,
  ): Promise<IncidentRecord>;
  /** Closes incidents whose quiet period after a recovery has passed; returns their announcements. */
  selfResolveDue(
    now: Date,
    settings: CorrelationSettings,
    announce: (incident: IncidentRecord) => Envelope,
  ): Promise<Envelope[]>;
}
