import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { DependencyUnavailableError, InvalidEventError } from '../domain/errors.ts';
import type { DeadLetterSink } from '../domain/ports.ts';
import { withRetry } from '../domain/retry.ts';
import type { Logger } from '../observability/logger.ts';
import { isTransientDatabaseError } from './database.ts';

export type Rejected = { outcome: 'rejected'; reason: string };

/**
 * The handler every bus agent shares: structured logs keyed by the incident,
 * metrics flushed, a malformed event dead-lettered with the reason and
 * acknowledged (retrying cannot fix it), a broken database connection run
 * again at once, any other failure thrown so Lambda
 * retries and then keeps the event in the agent's DLQ.
 */
export function busAgentHandler<D extends { deadLetters: DeadLetterSink }, R extends object>(options: {
  deps: (context: Context) => Promise<D>;
  logger: Logger;
  metrics: Metrics;
  /** What the agent does; the result is logged as `message`. */
  run: (event: unknown, deps: D) => Promise<R>;
  message: string;
}) {
  const { logger, metrics } = options;
  return middy<unknown, R | Rejected, Error, Context>()
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(logMetrics(metrics))
    .handler(async (event, context) => {
      const resolved = await options.deps(context);
      const incidentId = (event as { detail?: { incidentId?: unknown } } | null)?.detail?.incidentId;
      if (typeof incidentId === 'string') logger.appendKeys({ correlationId: incidentId });
      try {
        // Every agent's use-case is idempotent (guards in the store), so a run the database broke
        // off is run again here — sooner than Lambda's own retry, which comes a minute later.
        const result = await withRetry(() => options.run(event, resolved), {
          attempts: 3,
          baseDelayMs: 200,
          retryable: (e) => e instanceof DependencyUnavailableError || isTransientDatabaseError(e),
          onRetry: (error, attempt) => logger.warn('database unavailable; running again', { attempt, error }),
        });
        logger.info(options.message, { result: result as Record<string, unknown> });
        const outcome = (result as { outcome?: unknown }).outcome;
        if (typeof outcome === 'string') metrics.addMetric(`Outcome_${outcome}`, 'Count', 1);
        return result;
      } catch (error) {
        if (!(error instanceof InvalidEventError)) {
          logger.error(`${options.message}: failed; the invocation will be retried`, { error });
          throw error;
        }
        logger.error('event rejected', { reason: error.message, issues: error.issues });
        await resolved.deadLetters.reject({
          reason: error.message,
          issues: [...error.issues],
          messageId: null,
          body: JSON.stringify(event),
        });
        return { outcome: 'rejected', reason: error.message };
      }
    });
}
