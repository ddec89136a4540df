/**
 * Builds what the learn and notify agents need from their environment, once
 * per container: the stores on one pool, the embedding models, the bus, the
 * dead-letter queue, and the notification channels (Slack from Secrets
 * Manager, an SNS topic).
 */
import { SNSClient } from '@aws-sdk/client-sns';
import { SSMClient } from '@aws-sdk/client-ssm';
import * as z from 'zod/mini';
import { envWithDatabase, loadEnv } from '../config/env.ts';
import { learningConfigFromEnv, learningSettings } from '../config/learning.ts';
import { remediationSettingsFromEnv } from '../config/remediation.ts';
import { systemClock } from '../domain/ports.ts';
import type { LearnDeps } from '../usecases/learn.ts';
import type { NotificationChannel } from '../usecases/notify.ts';
import { clientDefaults, lazyAsync } from './aws-clients.ts';
import { createBedrockClient } from './bedrock-embedder.ts';
import { bedrockNarrator } from './bedrock-narrator.ts';
import { createSqsClient, SqsDeadLetters } from './dead-letters.ts';
import { createEmbeddingModels, embeddingEnvFields } from './embeddings.ts';
import { createEventBridgeClient, EventBridgePublisher } from './event-bus.ts';
import { SsmKillSwitch } from './kill-switch.ts';
import { knowledgeDbConnector } from './knowledge-db.ts';
import { PostgresKnowledgeStore } from './knowledge-store.ts';
import { PostgresLearningStore } from './learning-store.ts';
import { SnsChannel, slackChannelFromSecret } from './notification-channels.ts';
import { PostgresNotificationStore } from './notification-store.ts';
import { readSecret } from './parameters.ts';
import { PostgresPerceptionStore } from './perception-store.ts';
import { PostgresRemediationStore } from './remediation-store.ts';

const optionalText = () => z.optional(z.string().check(z.minLength(1)));

export const learningEnvSchema = envWithDatabase({
  ...embeddingEnvFields,
  HOMEOSTAT_BUS_NAME: z.string().check(z.minLength(1)),
  HOMEOSTAT_DEAD_LETTER_QUEUE_URL: z.string().check(z.minLength(1)),
  /** JSON: the learning settings (shared/config/learning.ts); empty for every default. */
  HOMEOSTAT_LEARNING: z._default(z.string(), ''),
  /** JSON: the remediation settings; learn reads the default autonomy from it. */
  HOMEOSTAT_REMEDIATION: z._default(z.string(), ''),
  /** The Slack secret: a webhook URL, {"webhookUrl"} or {"botToken", "channel"}. Unset: no Slack. */
  HOMEOSTAT_SLACK_SECRET_ARN: optionalText(),
  HOMEOSTAT_NOTIFY_TOPIC_ARN: optionalText(),
  HOMEOSTAT_KILL_SWITCH_PARAMETER: optionalText(),
});

export function learnWiring() {
  const env = loadEnv(learningEnvSchema);
  const db = knowledgeDbConnector(env);
  const deadLetters = new SqsDeadLetters(createSqsClient(), env.HOMEOSTAT_DEAD_LETTER_QUEUE_URL);
  const config = learningConfigFromEnv(env.HOMEOSTAT_LEARNING);
  return {
    env,
    config,
    deadLetters,
    learnDeps: lazyAsync(async (): Promise<LearnDeps & { deadLetters: SqsDeadLetters }> => {
      const pool = await db();
      const knowledge = new PostgresKnowledgeStore(pool);
      return {
        store: new PostgresLearningStore(pool, new PostgresRemediationStore(pool), knowledge),
        knowledge,
        embeddings: createEmbeddingModels(pool, {
          model: env.HOMEOSTAT_EMBEDDING_MODEL,
          bedrockEndpoint: env.BEDROCK_ENDPOINT,
        }),
        registry: new PostgresPerceptionStore(pool),
        bus: new EventBridgePublisher(createEventBridgeClient(), env.HOMEOSTAT_BUS_NAME),
        clock: systemClock,
        settings: learningSettings(config),
        defaultAutonomy: remediationSettingsFromEnv(env.HOMEOSTAT_REMEDIATION).defaultAutonomy,
        deadLetters,
      };
    }),
    notifyDeps: lazyAsync(async () => {
      const pool = await db();
      const channels: NotificationChannel[] = [];
      if (env.HOMEOSTAT_SLACK_SECRET_ARN) {
        channels.push(slackChannelFromSecret(await readSecret(env.HOMEOSTAT_SLACK_SECRET_ARN)));
      }
      if (env.HOMEOSTAT_NOTIFY_TOPIC_ARN)
        channels.push(new SnsChannel(new SNSClient(clientDefaults), env.HOMEOSTAT_NOTIFY_TOPIC_ARN));
      return {
        pool,
        ...(config.narrativeModel
          ? { narrator: bedrockNarrator(createBedrockClient(env.BEDROCK_ENDPOINT), config.narrativeModel) }
          : {}),
        store: new PostgresNotificationStore(pool),
        channels,
        deadLetters,
        killSwitch: env.HOMEOSTAT_KILL_SWITCH_PARAMETER
          ? new SsmKillSwitch(new SSMClient(clientDefaults), env.HOMEOSTAT_KILL_SWITCH_PARAMETER, 0)
          : null,
      };
    }),
  };
}
