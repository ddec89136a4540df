/** Small in-memory implementations of the ports, for unit tests of domain logic and handlers. */
import { applyBatch, emptyHistory } from '../domain/correlation-batch.ts';
import type {
  AlarmTagReader,
  Clock,
  Counters,
  DeadLetterSink,
  EcsServiceReader,
  EventPublisher,
  IngestRequest,
  IngestResult,
  PerceptionStore,
  RejectedEvent,
  WatchedServiceRecord,
} from '../domain/ports.ts';
import type { ServiceRef, ServiceSnapshot } from '../domain/signal.ts';
import type { ServiceDeployment } from '../domain/steady-revision.ts';
import type { Envelope } from '../events/envelope.ts';

export class FakeEcs implements EcsServiceReader {
  readonly calls: ServiceRef[] = [];
  constructor(
    readonly services: Map<string, ServiceSnapshot> = new Map(),
    private readonly failWith?: Error,
    readonly serviceDeployments: Map<string, ServiceDeployment[]> = new Map(),
  ) {}

  async describeService(ref: ServiceRef): Promise<ServiceSnapshot | null> {
    this.calls.push(ref);
    if (this.failWith) throw this.failWith;
    return this.services.get(`${ref.cluster}/${ref.service}`) ?? null;
  }

  readonly deploymentCalls: ServiceRef[] = [];
  async deployments(ref: ServiceRef): Promise<ServiceDeployment[] | null> {
    this.deploymentCalls.push(ref);
    if (this.failWith) throw this.failWith;
    return this.serviceDeployments.get(`${ref.cluster}/${ref.service}`) ?? null;
  }
}

export class FakeBus implements EventPublisher {
  readonly published: Envelope[] = [];
  async publish(envelopes: readonly Envelope[]): Promise<void> {
    this.published.push(...envelopes);
  }
}

export class FakeDeadLetters implements DeadLetterSink {
  readonly rejected: RejectedEvent[] = [];
  constructor(private readonly failWith?: Error) {}
  async reject(rejected: RejectedEvent): Promise<void> {
    if (this.failWith) throw this.failWith;
    this.rejected.push(rejected);
  }
}

export class FakeAlarmTags implements AlarmTagReader {
  constructor(readonly tags: Record<string, Record<string, string>> = {}) {}
  async tagsOf(alarmArn: string): Promise<Record<string, string>> {
    return this.tags[alarmArn] ?? {};
  }
}

export class FakeCounters implements Counters {
  readonly counts = new Map<string, number>();
  increment(name: string, dimensions: Record<string, string> = {}): void {
    const key = [name, ...Object.entries(dimensions).map(([k, v]) => `${k}=${v}`)].join(' ');
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  }
}

/**
 * A store that knows only its registry and applies every batch to an empty
 * history (no earlier deliveries, signals or live incidents): enough to test handlers.
 * Correlation over real history is tested against Postgres.
 */
export class EmptyHistoryStore implements PerceptionStore {
  readonly ingested: IngestRequest[] = [];
  private opened = 0;
  constructor(readonly watched: WatchedServiceRecord[] = []) {}

  async watchedService(ref: ServiceRef) {
    return this.watched.find((w) => w.cluster === ref.cluster && w.service === ref.service) ?? null;
  }
  async serviceForAlarmName(alarmName: string) {
    const hit = this.watched.find((w) => w.alarmPrefixes.some((p) => alarmName.startsWith(p)));
    return hit ? { cluster: hit.cluster, service: hit.service } : null;
  }
  async ingestBatch(requests: readonly IngestRequest[]): Promise<IngestResult[]> {
    this.ingested.push(...requests);
    return applyBatch(requests, emptyHistory(), () => `incident-${++this.opened}`).results;
  }
  async markPublished(): Promise<void> {}
  readonly steady: { ref: ServiceRef; taskDefinition: string; at: Date }[] = [];
  async recordSteady(ref: ServiceRef, taskDefinition: string, at: Date): Promise<void> {
    this.steady.push({ ref, taskDefinition, at });
  }
  async transition(): Promise<never> {
    throw new Error('EmptyHistoryStore keeps no incidents');
  }
  async selfResolveDue(): Promise<Envelope[]> {
    return [];
  }
}

export const watched = (
  cluster: string,
  service: string,
  alarmPrefixes: string[] = [],
): WatchedServiceRecord => ({
  cluster,
  service,
  alarmPrefixes,
  allowedActions: [],
  minTasks: 1,
  maxTasks: 10,
});

export const fixedClock = (iso: string): Clock => ({ now: () => new Date(iso) });
