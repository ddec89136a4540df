import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import * as z from 'zod/mini';
import { lazy } from '#shared/adapters/aws-clients.ts';
import { createEcsClient, EcsServiceReaderAdapter } from '#shared/adapters/ecs.ts';
import { createEventBridgeClient, EventBridgePublisher } from '#shared/adapters/event-bus.ts';
import { knowledgeDbConnector } from '#shared/adapters/knowledge-db.ts';
import { PostgresSignalStore } from '#shared/adapters/signal-store.ts';
import { envWithDatabase, loadEnv } from '#shared/config/env.ts';
import { InvalidEventError } from '#shared/domain/errors.ts';
import { systemClock } from '#shared/domain/ports.ts';
import { createLogger, type Logger } from '#shared/observability/logger.ts';
import { type ReceiveAlarmDeps, receiveAlarm } from '#shared/usecases/receive-alarm.ts';

/**
 * Perception agent (skeleton): CloudWatch alarm → signal row in Postgres →
 * `signal.received` on the homeostat bus. Invalid events are logged with the
 * reason and rethrown so the failure destination keeps them.
 */
export function createHandler(deps: () => Promise<ReceiveAlarmDeps>, logger: Logger) {
  return middy<unknown, { signalId: string; firstDelivery: boolean }>()
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .handler(async (event) => {
      const eventId = (event as { id?: unknown } | null)?.id;
      if (typeof eventId === 'string') logger.appendKeys({ correlationId: eventId });
      try {
        const result = await receiveAlarm(event, await deps());
        logger.info('signal received', {
          signalId: result.signalId,
          firstDelivery: result.firstDelivery,
          publishedEventId: result.published.id,
          ecsService: result.published.data.service,
          state: result.published.data.state,
        });
        return { signalId: result.signalId, firstDelivery: result.firstDelivery };
      } catch (error) {
        if (error instanceof InvalidEventError) {
          logger.error('event rejected', { reason: error.message, issues: error.issues });
        } else {
          logger.error('signal processing failed; the invocation will be retried', { error });
        }
        throw error;
      }
    });
}

const envSchema = envWithDatabase({ HOMEOSTAT_BUS_NAME: z.string().check(z.minLength(1)) });

const productionDeps = lazy(() => {
  const env = loadEnv(envSchema);
  const db = knowledgeDbConnector(env);
  const ecs = new EcsServiceReaderAdapter(createEcsClient());
  const bus = new EventBridgePublisher(createEventBridgeClient(), env.HOMEOSTAT_BUS_NAME);
  return async (): Promise<ReceiveAlarmDeps> => ({
    ecs,
    bus,
    signals: new PostgresSignalStore(await db()),
    clock: systemClock,
  });
});

export const handler = createHandler(() => productionDeps()(), createLogger('homeostat-perceive'));
