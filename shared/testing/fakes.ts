/** Small in-memory implementations of the ports, for unit tests of domain logic. */
import type { Clock, EcsServiceReader, EventPublisher, SignalStore } from '../domain/ports.ts';
import type { ServiceRef, ServiceSnapshot, Signal } from '../domain/signal.ts';
import type { Envelope } from '../events/envelope.ts';

export class FakeEcs implements EcsServiceReader {
  readonly calls: ServiceRef[] = [];
  constructor(
    readonly services: Map<string, ServiceSnapshot> = new Map(),
    private readonly failWith?: Error,
  ) {}

  async describeService(ref: ServiceRef): Promise<ServiceSnapshot | null> {
    this.calls.push(ref);
    if (this.failWith) throw this.failWith;
    return this.services.get(`${ref.cluster}/${ref.service}`) ?? null;
  }
}

export class FakeSignalStore implements SignalStore {
  readonly rows = new Map<string, { signal: Signal; snapshot: ServiceSnapshot | null }>();
  async record(signal: Signal, snapshot: ServiceSnapshot | null): Promise<boolean> {
    if (this.rows.has(signal.id)) return false;
    this.rows.set(signal.id, { signal, snapshot });
    return true;
  }
}

export class FakeBus implements EventPublisher {
  readonly published: Envelope[] = [];
  async publish(envelope: Envelope): Promise<void> {
    this.published.push(envelope);
  }
}

export const fixedClock = (iso: string): Clock => ({ now: () => new Date(iso) });
