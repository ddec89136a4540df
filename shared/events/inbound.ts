import type * as z from 'zod/mini';
import { InvalidEventError } from '../domain/errors.ts';
import type { InboundEvent } from '../domain/signal.ts';
import { deploymentStateChangeSchema, serviceActionSchema, taskStateChangeSchema } from './aws-ecs.ts';
import { alarmStateChangeSchema } from './cloudwatch-alarm.ts';
import { appSignalSchema, chaosMarkerSchema } from './homeostat-inputs.ts';
import { describeIssues } from './zod.ts';

/** Source + detail-type pairs the perception agent understands, with their schemas. */
const known: Record<string, { type: InboundEvent['type']; schema: z.ZodMiniType }> = {
  'aws.cloudwatch|CloudWatch Alarm State Change': { type: 'alarm', schema: alarmStateChangeSchema },
  'aws.ecs|ECS Task State Change': { type: 'task', schema: taskStateChangeSchema },
  'aws.ecs|ECS Deployment State Change': { type: 'deployment', schema: deploymentStateChangeSchema },
  'aws.ecs|ECS Service Action': { type: 'service_action', schema: serviceActionSchema },
  'homeostat.app|app.signal': { type: 'app', schema: appSignalSchema },
  'homeostat.chaos|chaos.injected': { type: 'chaos', schema: chaosMarkerSchema },
};

export const understoodDetailTypes = Object.keys(known).map((key) => {
  const [source, detailType] = key.split('|') as [string, string];
  return { source, detailType };
});

export type ParsedInbound =
  | { status: 'known'; inbound: InboundEvent }
  | { status: 'unknown'; source: string; detailType: string };

/**
 * Classifies a raw EventBridge event: a known type parsed by its schema, or an
 * unknown type (ignored by the caller). A known type that does not match its
 * schema, or something that is not an EventBridge event at all, is an InvalidEventError.
 */
export function parseInbound(event: unknown): ParsedInbound {
  const head = event as { source?: unknown; 'detail-type'?: unknown } | null;
  if (
    typeof head !== 'object' ||
    head === null ||
    typeof head.source !== 'string' ||
    typeof head['detail-type'] !== 'string'
  ) {
    throw new InvalidEventError('not an EventBridge event: source and detail-type must be strings');
  }
  const entry = known[`${head.source}|${head['detail-type']}`];
  if (!entry) return { status: 'unknown', source: head.source, detailType: head['detail-type'] };
  const parsed = entry.schema.safeParse(event);
  if (!parsed.success) {
    throw new InvalidEventError(`malformed "${head['detail-type']}" event`, describeIssues(parsed.error));
  }
  return { status: 'known', inbound: { type: entry.type, event: parsed.data } as InboundEvent };
}
