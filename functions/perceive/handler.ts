import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import * as z from 'zod/mini';
import { lazy } from '#shared/adapters/aws-clients.ts';
import { CloudWatchAlarmTagReader, createCloudWatchClient } from '#shared/adapters/cloudwatch.ts';
import { CachedEcsServiceReader, createEcsClient, EcsServiceReaderAdapter } from '#shared/adapters/ecs.ts';
import { createEventBridgeClient, EventBridgePublisher } from '#shared/adapters/event-bus.ts';
import { knowledgeDbConnector } from '#shared/adapters/knowledge-db.ts';
import { PostgresPerceptionStore } from '#shared/adapters/perception-store.ts';
import { envWithDatabase, loadEnv } from '#shared/config/env.ts';
import { InvalidEventError } from '#shared/domain/errors.ts';
import { systemClock } from '#shared/domain/ports.ts';
import { createLogger, type Logger } from '#shared/observability/logger.ts';
import { createMetrics, metricsCounters } from '#shared/observability/metrics.ts';
import { type PerceiveDeps, perceive, sweepQuietIncidents } from '#shared/usecases/perceive.ts';

export type PerceiveHandlerResult =
  | { outcome: string; signalId?: string; incidentId?: string | null; fingerprint?: string }
  | { outcome: 'swept'; selfResolved: number };

/** The sweep rule's scheduled event: close incidents that recovered and went quiet. */
const isSweep = (event: unknown) =>
  (event as { source?: unknown })?.source === 'aws.events' &&
  (event as { 'detail-type'?: unknown })?.['detail-type'] === 'Scheduled Event';

/**
 * Perception agent: alarms and ECS events (default bus), app signals and chaos
 * markers (homeostat bus) → signals, incidents and their events. Malformed
 * events are logged with the reason and rethrown so the failure destination
 * keeps them; unknown detail-types are counted and ignored.
 */
export function createHandler(deps: () => Promise<PerceiveDeps>, logger: Logger, metrics: Metrics) {
  return middy<unknown, PerceiveHandlerResult>()
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(logMetrics(metrics))
    .handler(async (event) => {
      const eventId = (event as { id?: unknown } | null)?.id;
      if (typeof eventId === 'string') logger.appendKeys({ correlationId: eventId });
      try {
        if (isSweep(event)) {
          const resolved = await sweepQuietIncidents(await deps());
          logger.info('quiet incidents swept', { selfResolved: resolved.map((e) => e.incidentId) });
          return { outcome: 'swept', selfResolved: resolved.length };
        }
        const result = await perceive(event, await deps());
        if (result.outcome === 'ignored') {
          const about =
            'signal' in result ? { ecsService: result.service, signalName: result.signal.name } : result;
          logger.info('event ignored', { reason: result.reason, ...about });
          return { outcome: `ignored:${result.reason}` };
        }
        if (result.incidentId) logger.appendKeys({ correlationId: result.incidentId });
        logger.info('signal recorded', {
          outcome: result.outcome,
          signalId: result.signal.id,
          kind: result.signal.kind,
          classification: result.signal.classification,
          fingerprint: result.fingerprint,
          ecsService: result.service,
          published: result.published.map((e) => e.type),
        });
        return {
          outcome: result.outcome,
          signalId: result.signal.id,
          incidentId: result.incidentId,
          fingerprint: result.fingerprint,
        };
      } catch (error) {
        if (error instanceof InvalidEventError) {
          logger.error('event rejected', { reason: error.message, issues: error.issues });
        } else {
          logger.error('event processing failed; the invocation will be retried', { error });
        }
        throw error;
      }
    });
}

const envSchema = envWithDatabase({ HOMEOSTAT_BUS_NAME: z.string().check(z.minLength(1)) });
const metrics = createMetrics('homeostat-perceive');

const productionDeps = lazy(() => {
  const env = loadEnv(envSchema);
  const db = knowledgeDbConnector(env);
  const ecs = new CachedEcsServiceReader(new EcsServiceReaderAdapter(createEcsClient()));
  const alarmTags = new CloudWatchAlarmTagReader(createCloudWatchClient());
  const bus = new EventBridgePublisher(createEventBridgeClient(), env.HOMEOSTAT_BUS_NAME);
  const counters = metricsCounters(metrics);
  return async (): Promise<PerceiveDeps> => ({
    ecs,
    alarmTags,
    bus,
    counters,
    store: new PostgresPerceptionStore(await db()),
    clock: systemClock,
  });
});

export const handler = createHandler(() => productionDeps()(), createLogger('homeostat-perceive'), metrics);
