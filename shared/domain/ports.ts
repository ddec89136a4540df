/** Ports the use-cases depend on. Adapters in shared/adapters implement them. */
import type { Envelope } from '../events/envelope.ts';
import type { ServiceRef, ServiceSnapshot, Signal } from './signal.ts';

export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };

/** Read access to the ECS control plane. */
export interface EcsServiceReader {
  /** The service's current state, or null when ECS does not know it. */
  describeService(ref: ServiceRef): Promise<ServiceSnapshot | null>;
}

export interface SignalStore {
  /** Stores the signal once; returns false when a signal with the same id already exists. */
  record(signal: Signal, snapshot: ServiceSnapshot | null): Promise<boolean>;
}

export interface EventPublisher {
  publish(envelope: Envelope): Promise<void>;
}
