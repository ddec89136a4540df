import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import * as z from 'zod/mini';
import { lazy, lazyAsync } from '#shared/adapters/aws-clients.ts';
import { CloudWatchAlarmTagReader, createCloudWatchClient } from '#shared/adapters/cloudwatch.ts';
import { createSqsClient, SqsDeadLetters } from '#shared/adapters/dead-letters.ts';
import { CachedEcsServiceReader, createEcsClient, EcsServiceReaderAdapter } from '#shared/adapters/ecs.ts';
import { createEventBridgeClient, EventBridgePublisher } from '#shared/adapters/event-bus.ts';
import { knowledgeDbConnector } from '#shared/adapters/knowledge-db.ts';
import { PostgresPerceptionStore } from '#shared/adapters/perception-store.ts';
import { envWithDatabase, loadEnv } from '#shared/config/env.ts';
import { DependencyUnavailableError, InvalidEventError } from '#shared/domain/errors.ts';
import { type DeadLetterSink, systemClock } from '#shared/domain/ports.ts';
import { isScheduledEvent } from '#shared/events/bus-event.ts';
import { createLogger, type Logger } from '#shared/observability/logger.ts';
import { createMetrics, metricsCounters } from '#shared/observability/metrics.ts';
import {
  type BatchItem,
  type PerceiveDeps,
  type PerceiveResult,
  perceiveBatch,
  sweepQuietIncidents,
} from '#shared/usecases/perceive.ts';

export type PerceiveHandlerDeps = PerceiveDeps & { deadLetters: DeadLetterSink };

export type PerceiveHandlerResult =
  | { outcome: string; signalId?: string; incidentId?: string | null; fingerprint?: string }
  | { outcome: 'swept'; selfResolved: number }
  | { batchItemFailures: { itemIdentifier: string }[] };

interface QueueRecord {
  messageId: string;
  body: string;
}

/** The sweep rule's scheduled event: close incidents that recovered and went quiet. */
const isSweep = isScheduledEvent;

/** A batch from the perception queue (SQS event source mapping). */
const isQueueBatch = (event: unknown): event is { Records: QueueRecord[] } =>
  Array.isArray((event as { Records?: unknown } | null)?.Records);

function logResult(logger: Logger, result: PerceiveResult) {
  if (result.outcome === 'ignored') {
    const about =
      'signal' in result ? { ecsService: result.service, signalName: result.signal.name } : result;
    logger.info('event ignored', { reason: result.reason, ...about });
    return;
  }
  logger.info('signal recorded', {
    correlationId: result.incidentId ?? result.signal.id,
    outcome: result.outcome,
    signalId: result.signal.id,
    kind: result.signal.kind,
    classification: result.signal.classification,
    fingerprint: result.fingerprint,
    ecsService: result.service,
    published: result.published.map((e) => e.type),
    ...(result.steadyRevision ? { steadyRevision: result.steadyRevision } : {}),
  });
}

const parseBody = (record: QueueRecord): unknown => {
  try {
    return JSON.parse(record.body);
  } catch {
    return undefined;
  }
};

/**
 * A queue batch: malformed events go to the dead-letter queue with the reason
 * and are acknowledged (retrying cannot fix them); the rest are recorded in
 * one transaction. An unavailable dependency fails the whole batch for a
 * retry; any other failure is narrowed down by recording the events one by
 * one, so only the event that breaks the store is retried and, after the
 * queue's receive limit, dead-lettered.
 */
async function handleQueueBatch(
  records: QueueRecord[],
  deps: PerceiveHandlerDeps,
  logger: Logger,
): Promise<{ batchItemFailures: { itemIdentifier: string }[] }> {
  const failed = new Set<string>();
  const notJson = new InvalidEventError('message body is not JSON');
  const events = records.map(parseBody);
  const parsed = events.flatMap((e, i) => (e === undefined ? [] : [i]));
  // items[i] is what became of records[i]; null when its body was not JSON or it failed.
  const items: (BatchItem | null)[] = records.map(() => null);
  try {
    const recorded = await perceiveBatch(
      parsed.map((i) => events[i]),
      deps,
    );
    parsed.forEach((i, n) => {
      items[i] = recorded[n] ?? null;
    });
  } catch (error) {
    if (error instanceof DependencyUnavailableError) {
      logger.error('batch failed on an unavailable dependency; it will be retried', { error });
      return { batchItemFailures: records.map((r) => ({ itemIdentifier: r.messageId })) };
    }
    logger.warn('batch failed; recording its events one by one', { error });
    for (const i of parsed) {
      try {
        items[i] = (await perceiveBatch([events[i]], deps))[0] ?? null;
      } catch (single) {
        const messageId = records[i]?.messageId ?? '';
        logger.error('event processing failed; it will be retried', { error: single, messageId });
        failed.add(messageId);
      }
    }
  }
  for (const [i, record] of records.entries()) {
    if (failed.has(record.messageId)) continue;
    const item = items[i];
    if (item?.ok) {
      logResult(logger, item.result);
      continue;
    }
    const error = item ? item.error : notJson;
    logger.error('event rejected', {
      reason: error.message,
      issues: error.issues,
      messageId: record.messageId,
    });
    try {
      await deps.deadLetters.reject({
        reason: error.message,
        issues: [...error.issues],
        messageId: record.messageId,
        body: record.body,
      });
    } catch (sendError) {
      // Not acknowledged: the queue redelivers it and, after its receive limit, dead-letters it itself.
      logger.error('could not dead-letter a rejected event; it will be retried', { error: sendError });
      failed.add(record.messageId);
    }
  }
  return { batchItemFailures: [...failed].map((itemIdentifier) => ({ itemIdentifier })) };
}

/**
 * Perception agent: alarms and ECS events (default bus), app signals and
 * chaos markers (homeostat bus) arrive in batches from the perception queue
 * and become signals, incidents and their events. A single event invoked
 * directly is handled too: a malformed one is logged and rethrown so the
 * failure destination keeps it. Unknown detail-types are counted and ignored.
 */
export function createHandler(deps: () => Promise<PerceiveHandlerDeps>, logger: Logger, metrics: Metrics) {
  return middy<unknown, PerceiveHandlerResult>()
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(logMetrics(metrics))
    .handler(async (event) => {
      if (isQueueBatch(event)) return handleQueueBatch(event.Records, await deps(), logger);
      const eventId = (event as { id?: unknown } | null)?.id;
      if (typeof eventId === 'string') logger.appendKeys({ correlationId: eventId });
      try {
        if (isSweep(event)) {
          const resolved = await sweepQuietIncidents(await deps());
          logger.info('quiet incidents swept', { selfResolved: resolved.map((e) => e.incidentId) });
          return { outcome: 'swept', selfResolved: resolved.length };
        }
        const [item] = await perceiveBatch([event], await deps());
        if (!item) throw new Error('perception returned no result for the event');
        if (!item.ok) throw item.error;
        const result = item.result;
        logResult(logger, result);
        if (result.outcome === 'ignored') return { outcome: `ignored:${result.reason}` };
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

const envSchema = envWithDatabase({
  HOMEOSTAT_BUS_NAME: z.string().check(z.minLength(1)),
  HOMEOSTAT_DEAD_LETTER_QUEUE_URL: z.string().check(z.minLength(1)),
});
const metrics = createMetrics('homeostat-perceive');

const productionDeps = lazy(() => {
  const env = loadEnv(envSchema);
  const db = knowledgeDbConnector(env);
  const ecs = new CachedEcsServiceReader(new EcsServiceReaderAdapter(createEcsClient()));
  const alarmTags = new CloudWatchAlarmTagReader(createCloudWatchClient());
  const bus = new EventBridgePublisher(createEventBridgeClient(), env.HOMEOSTAT_BUS_NAME);
  const deadLetters = new SqsDeadLetters(createSqsClient(), env.HOMEOSTAT_DEAD_LETTER_QUEUE_URL);
  const counters = metricsCounters(metrics);
  // Built once the pool exists: warm invocations keep the store's watched-service cache.
  return lazyAsync(
    async (): Promise<PerceiveHandlerDeps> => ({
      ecs,
      alarmTags,
      bus,
      deadLetters,
      counters,
      store: new PostgresPerceptionStore(await db()),
      clock: systemClock,
    }),
  );
});

export const handler = createHandler(() => productionDeps()(), createLogger('homeostat-perceive'), metrics);
