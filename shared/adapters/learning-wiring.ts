/**
 * Builds what the learn and notify agents need from their environment, once
 * per container: the stores on one pool, the embedding models, the bus, the
 * dead-letter queue, and the notification channels (Slack from Secrets
 * Manager, an SNS topic). The learning (and, for learn, remediation) settings
 * are read per invocation from their SSM parameters, cached for
 * settingsMaxAgeSeconds (60 s).
 */
import { SNSClient } from '@aws-sdk/client-sns';
import { SSMClient } from '@aws-sdk/client-ssm';
import * as z from 'zod/mini';
import { envWithDatabase, loadEnv } from '../config/env.ts';
import { learningSettings } from '../config/learning.ts';
import { ConfigurationError } from '../domain/errors.ts';
import { systemClock } from '../domain/ports.ts';
import type { LearnDeps } from '../usecases/learn.ts';
import type { NotificationChannel } from '../usecases/notify.ts';
import { clientDefaults, lazy, lazyAsync } from './aws-clients.ts';
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
import { readLearningConfig, readRemediationSettings } from './settings-parameters.ts';

const optionalText = () => z.optional(z.string().check(z.minLength(1)));

export const learningEnvSchema = envWithDatabase({
  ...embeddingEnvFields,
  HOMEOSTAT_BUS_NAME: z.string().check(z.minLength(1)),
  HOMEOSTAT_DEAD_LETTER_QUEUE_URL: z.string().check(z.minLength(1)),
  /** The SSM parameter holding the learning settings as JSON (shared/config/learning.ts). */
  HOMEOSTAT_LEARNING_PARAMETER: z.string().check(z.startsWith('/')),
  /** The SSM parameter holding the remediation settings; learn reads the default autonomy from it (notify: unset). */
  HOMEOSTAT_REMEDIATION_PARAMETER: z.optional(z.string().check(z.startsWith('/'))),
  /** The Slack secret: a webhook URL, {"webhookUrl"} or {"botToken", "channel"}. Unset: no Slack. */
  HOMEOSTAT_SLACK_SECRET_ARN: optionalText(),
  HOMEOSTAT_NOTIFY_TOPIC_ARN: optionalText(),
  HOMEOSTAT_KILL_SWITCH_PARAMETER: optionalText(),
});

/** `options.maxAgeSeconds`: how long the settings read are reused (default 60; tests shorten it). */
export function learnWiring(options: { maxAgeSeconds?: number } = {}) {
  const env = loadEnv(learningEnvSchema);
  const db = knowledgeDbConnector(env);
  const deadLetters = new SqsDeadLetters(createSqsClient(), env.HOMEOSTAT_DEAD_LETTER_QUEUE_URL);
  const ssm = new SSMClient(clientDefaults);
  const read = { maxAgeSeconds: options.maxAgeSeconds };
  /** The learning settings as their parameter holds them now (cached). */
  const config = () => readLearningConfig(ssm, env.HOMEOSTAT_LEARNING_PARAMETER, read);
  const learnParts = lazyAsync(async () => {
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
      deadLetters,
    };
  });
  const notifyParts = lazyAsync(async () => {
    const pool = await db();
    const channels: NotificationChannel[] = [];
    if (env.HOMEOSTAT_SLACK_SECRET_ARN) {
      channels.push(slackChannelFromSecret(await readSecret(env.HOMEOSTAT_SLACK_SECRET_ARN)));
    }
    if (env.HOMEOSTAT_NOTIFY_TOPIC_ARN)
      channels.push(new SnsChannel(new SNSClient(clientDefaults), env.HOMEOSTAT_NOTIFY_TOPIC_ARN));
    return {
      pool,
      store: new PostgresNotificationStore(pool),
      channels,
      deadLetters,
      killSwitch: env.HOMEOSTAT_KILL_SWITCH_PARAMETER
        ? new SsmKillSwitch(ssm, env.HOMEOSTAT_KILL_SWITCH_PARAMETER, 0)
        : null,
    };
  });
  const bedrock = lazy(() => createBedrockClient(env.BEDROCK_ENDPOINT));
  return {
    env,
    config,
    deadLetters,
    /** The learn agent's dependencies, with the learning and remediation settings as their parameters hold them now. */
    async learnDeps(): Promise<LearnDeps & { deadLetters: SqsDeadLetters }> {
      if (!env.HOMEOSTAT_REMEDIATION_PARAMETER)
        throw new ConfigurationError(
          'HOMEOSTAT_REMEDIATION_PARAMETER is not set: learn needs the default autonomy',
        );
      const [parts, learning, remediation] = await Promise.all([
        learnParts(),
        config(),
        readRemediationSettings(ssm, env.HOMEOSTAT_REMEDIATION_PARAMETER, read),
      ]);
      return {
        ...parts,
        settings: learningSettings(learning),
        defaultAutonomy: remediation.defaultAutonomy,
      };
    },
    /** The notify agent's dependencies, with the narrator the learning settings name now (if any). */
    async notifyDeps() {
      const [parts, learning] = await Promise.all([notifyParts(), config()]);
      return {
        ...parts,
        ...(learning.narrativeModel ? { narrator: bedrockNarrator(bedrock(), learning.narrativeModel) } : {}),
      };
    },
  };
}
