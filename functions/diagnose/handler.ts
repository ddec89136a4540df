import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import middy from '@middy/core';
import * as z from 'zod/mini';
import { clientDefaults, lazy, lazyAsync } from '#shared/adapters/aws-clients.ts';
import { BedrockDiagnoser } from '#shared/adapters/bedrock-diagnoser.ts';
import { createBedrockClient } from '#shared/adapters/bedrock-embedder.ts';
import { createCloudWatchMetricsClient } from '#shared/adapters/cloudwatch.ts';
import { CloudWatchLogsTool, CloudWatchMetricsTool } from '#shared/adapters/cloudwatch-evidence.ts';
import { createSqsClient, SqsDeadLetters } from '#shared/adapters/dead-letters.ts';
import { PostgresDiagnosisStore } from '#shared/adapters/diagnosis-store.ts';
import { createEcsClient } from '#shared/adapters/ecs.ts';
import { EcsEvidenceTool } from '#shared/adapters/ecs-evidence.ts';
import { createEmbeddingModels, embeddingEnvFields } from '#shared/adapters/embeddings.ts';
import { createEventBridgeClient, EventBridgePublisher } from '#shared/adapters/event-bus.ts';
import { knowledgeDbConnector } from '#shared/adapters/knowledge-db.ts';
import { KnowledgeEvidenceTool, SignalsEvidenceTool } from '#shared/adapters/knowledge-evidence.ts';
import { PostgresKnowledgeStore } from '#shared/adapters/knowledge-store.ts';
import { PostgresPerceptionStore } from '#shared/adapters/perception-store.ts';
import { diagnoserSettings, diagnosisEnvFields } from '#shared/config/diagnosis.ts';
import { envWithDatabase, loadEnv } from '#shared/config/env.ts';
import { CircuitBreaker } from '#shared/domain/circuit-breaker.ts';
import { answeredBy, type Diagnosis } from '#shared/domain/diagnosis.ts';
import { InvalidEventError } from '#shared/domain/errors.ts';
import { type Counters, type DeadLetterSink, systemClock } from '#shared/domain/ports.ts';
import { offlineDiagnoser } from '#shared/domain/pre-analysis.ts';
import { createLogger, type Logger } from '#shared/observability/logger.ts';
import { createMetrics, diagnosisMetrics, metricsCounters } from '#shared/observability/metrics.ts';
import { type DiagnoseDeps, diagnoseEvent } from '#shared/usecases/diagnose.ts';

export type DiagnoseHandlerDeps = DiagnoseDeps & { deadLetters: DeadLetterSink };

export type DiagnoseHandlerResult =
  | { outcome: 'diagnosed' | 'duplicate'; incidentId: string; rootCause: string | null; escalated: boolean }
  | { outcome: 'skipped'; incidentId: string; reason: string }
  | { outcome: 'rejected'; reason: string };

/**
 * Counts who answered `diagnosis` (DiagnosisAnsweredBy: bedrock and the model id, or offline and
 * why), the tokens it cost, and whether the offline rules stood in for a model; returns the
 * answer for the log line.
 */
export function recordAnswer(diagnosis: Diagnosis, metrics: Metrics, counters: Counters) {
  const answer = answeredBy(diagnosis);
  counters.increment(
    diagnosisMetrics.answeredBy,
    answer.answeredBy === 'bedrock'
      ? { AnsweredBy: 'bedrock', Model: answer.model }
      : { AnsweredBy: 'offline', Reason: answer.reason },
  );
  metrics.addMetric(diagnosisMetrics.inputTokens, 'Count', diagnosis.tokens.input);
  metrics.addMetric(diagnosisMetrics.outputTokens, 'Count', diagnosis.tokens.output);
  if (diagnosis.fallbackReason) metrics.addMetric(diagnosisMetrics.fallbacks, 'Count', 1);
  return answer;
}

/**
 * Diagnosis agent: incident.opened → evidence → diagnosis → diagnosis.completed
 * (and incident.escalated on insufficient evidence); diagnosis.requested → the
 * same again → diagnosis.revised. A malformed event is
 * dead-lettered with the reason and acknowledged (retrying cannot fix it);
 * any other failure is thrown so Lambda retries and then keeps the event.
 */
export function createHandler(
  deps: () => Promise<DiagnoseHandlerDeps>,
  logger: Logger,
  metrics: Metrics,
  counters: Counters = metricsCounters(metrics),
) {
  return middy<unknown, DiagnoseHandlerResult>()
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(logMetrics(metrics))
    .handler(async (event) => {
      const resolved = await deps();
      const incidentId = (event as { detail?: { incidentId?: unknown } } | null)?.detail?.incidentId;
      if (typeof incidentId === 'string') logger.appendKeys({ correlationId: incidentId });
      try {
        const result = await diagnoseEvent(event, resolved);
        if (result.outcome === 'skipped') {
          logger.info('diagnosis skipped', { incidentId: result.incidentId, reason: result.reason });
          return result;
        }
        const { diagnosis } = result;
        const top = diagnosis.hypotheses[0] ?? null;
        const answer = recordAnswer(diagnosis, metrics, counters);
        logger.info('incident diagnosed', {
          outcome: result.outcome,
          incidentId: result.incidentId,
          // Who answered: the model id, or the offline rules and why (fallbackCause, fallbackReason).
          answeredBy: answer.answeredBy === 'bedrock' ? answer.model : 'offline rules',
          fallbackCause: answer.answeredBy === 'offline' ? answer.reason : null,
          provider: diagnosis.provider,
          model: diagnosis.model,
          rootCause: top?.rootCause ?? null,
          confidence: top?.confidence ?? null,
          insufficientEvidence: diagnosis.insufficientEvidence,
          gaps: diagnosis.gaps,
          steps: diagnosis.steps,
          tokens: diagnosis.tokens,
          costUsd: diagnosis.costUsd,
          fallbackReason: diagnosis.fallbackReason,
        });
        return {
          outcome: result.outcome,
          incidentId: result.incidentId,
          rootCause: top?.rootCause ?? null,
          escalated: result.escalated,
        };
      } catch (error) {
        if (!(error instanceof InvalidEventError)) {
          logger.error('diagnosis failed; the invocation will be retried', { error });
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

const envSchema = envWithDatabase({
  HOMEOSTAT_BUS_NAME: z.string().check(z.minLength(1)),
  HOMEOSTAT_DEAD_LETTER_QUEUE_URL: z.string().check(z.minLength(1)),
  ...embeddingEnvFields,
  ...diagnosisEnvFields,
});
const metrics = createMetrics('homeostat-diagnose');
const logger = createLogger('homeostat-diagnose');

const productionDeps = lazy(() => {
  const env = loadEnv(envSchema);
  const db = knowledgeDbConnector(env);
  const ecs = createEcsClient();
  const bus = new EventBridgePublisher(createEventBridgeClient(), env.HOMEOSTAT_BUS_NAME);
  const deadLetters = new SqsDeadLetters(createSqsClient(), env.HOMEOSTAT_DEAD_LETTER_QUEUE_URL);
  // Kept across warm invocations: a throttled Bedrock is left alone for a while.
  const diagnoser =
    env.HOMEOSTAT_DIAGNOSIS_PROVIDER === 'bedrock'
      ? new BedrockDiagnoser(
          createBedrockClient(env.BEDROCK_ENDPOINT),
          diagnoserSettings(env),
          new CircuitBreaker(systemClock),
        )
      : offlineDiagnoser;
  const metricsClient = createCloudWatchMetricsClient();
  const logs = new CloudWatchLogsClient(clientDefaults);
  // Built once the pool exists: warm invocations reuse the stores, their caches and the embedder.
  return lazyAsync(async (): Promise<DiagnoseHandlerDeps> => {
    const pool = await db();
    const registry = new PostgresPerceptionStore(pool);
    const embeddings = createEmbeddingModels(
      pool,
      { model: env.HOMEOSTAT_EMBEDDING_MODEL, bedrockEndpoint: env.BEDROCK_ENDPOINT },
      (error) => logger.warn('embedding model unavailable; searching with the offline model', { error }),
    );
    return {
      store: new PostgresDiagnosisStore(pool),
      tools: [
        new EcsEvidenceTool(ecs),
        new CloudWatchMetricsTool(
          metricsClient,
          async (ref) => (await registry.watchedService(ref))?.alarmPrefixes ?? [],
        ),
        new CloudWatchLogsTool(logs, ecs),
        new SignalsEvidenceTool(pool),
        new KnowledgeEvidenceTool(new PostgresKnowledgeStore(pool), embeddings),
      ],
      diagnoser,
      bus,
      deadLetters,
      clock: systemClock,
    };
  });
});

export const handler = createHandler(() => productionDeps()(), logger, metrics);
