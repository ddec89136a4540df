import { InvalidEventError } from '../domain/errors.ts';
import type { Clock, EcsServiceReader, EventPublisher, SignalStore } from '../domain/ports.ts';
import { signalFromAlarm } from '../domain/signal.ts';
import { detailTypes, type SignalReceivedData } from '../events/catalog.ts';
import { alarmStateChangeSchema } from '../events/cloudwatch-alarm.ts';
import { buildEnvelope, type Envelope } from '../events/envelope.ts';
import { describeIssues } from '../events/zod.ts';

export interface ReceiveAlarmDeps {
  ecs: EcsServiceReader;
  signals: SignalStore;
  bus: EventPublisher;
  clock: Clock;
}

export interface ReceiveAlarmResult {
  signalId: string;
  /** False when this event was seen before (redelivery); the event is re-published either way. */
  firstDelivery: boolean;
  published: Envelope<SignalReceivedData>;
}

/** Parses an alarm event or throws an InvalidEventError naming every problem. */
export function parseAlarmEvent(event: unknown) {
  const parsed = alarmStateChangeSchema.safeParse(event);
  if (!parsed.success) {
    throw new InvalidEventError('not a CloudWatch Alarm State Change event', describeIssues(parsed.error));
  }
  return parsed.data;
}

/**
 * Alarm → signal: resolve the ECS service, record the signal, announce it.
 * Recording is idempotent on the event id and the published envelope id is
 * derived from it, so a redelivered event neither duplicates rows nor events.
 */
export async function receiveAlarm(event: unknown, deps: ReceiveAlarmDeps): Promise<ReceiveAlarmResult> {
  const signal = signalFromAlarm(parseAlarmEvent(event));
  const snapshot = signal.service ? await deps.ecs.describeService(signal.service) : null;
  const firstDelivery = await deps.signals.record(signal, snapshot);
  const envelope = buildEnvelope<SignalReceivedData>({
    type: detailTypes.signalReceived,
    source: 'homeostat.perceive',
    time: deps.clock.now(),
    causationId: signal.id,
    data: {
      signalId: signal.id,
      kind: signal.kind,
      name: signal.name,
      state: signal.state,
      previousState: signal.previousState,
      reason: signal.reason,
      occurredAt: signal.occurredAt.toISOString(),
      service: signal.service,
      serviceSnapshot: snapshot,
    },
  });
  await deps.bus.publish(envelope);
  return { signalId: signal.id, firstDelivery, published: envelope };
}
