/**
 * Builds what the chaos agent needs from its environment, once per
 * container: the configured experiments and guardrails, the kill switch, the
 * injector (ECS, SSM, FIS), the store on the knowledge database, the revert
 * scheduler (its schedules invoke this same function) and the bus.
 */
import { randomUUID } from 'node:crypto';
import { ECSClient } from '@aws-sdk/client-ecs';
import { SchedulerClient } from '@aws-sdk/client-scheduler';
import { SSMClient } from '@aws-sdk/client-ssm';
import * as z from 'zod/mini';
import { chaosConfigFromEnv, chaosSettings } from '../config/chaos.ts';
import { envWithDatabase, loadEnv } from '../config/env.ts';
import { ConfigurationError } from '../domain/errors.ts';
import { systemClock } from '../domain/ports.ts';
import type { ChaosDeps } from '../usecases/chaos.ts';
import { clientDefaults, lazyAsync } from './aws-clients.ts';
import { EcsChaosInjector } from './chaos-injector.ts';
import { PostgresChaosStore } from './chaos-store.ts';
import { createCloudWatchMetricsClient } from './cloudwatch.ts';
import { createSqsClient, SqsDeadLetters } from './dead-letters.ts';
import { createEventBridgeClient, EventBridgePublisher } from './event-bus.ts';
import { FisClient } from './fis.ts';
import { SsmKillSwitch } from './kill-switch.ts';
import { knowledgeDbConnector } from './knowledge-db.ts';
import { PostgresPerceptionStore } from './perception-store.ts';
import { ServiceHealthReader } from './service-health.ts';
import { OneTimeSchedules } from './verification-scheduler.ts';

export const chaosEnvSchema = envWithDatabase({
  HOMEOSTAT_BUS_NAME: z.string().check(z.minLength(1)),
  HOMEOSTAT_DEAD_LETTER_QUEUE_URL: z.string().check(z.minLength(1)),
  HOMEOSTAT_KILL_SWITCH_PARAMETER: z.string().check(z.minLength(1)),
  /** JSON: experiments and guardrails (shared/config/chaos.ts); empty: none, defaults. */
  HOMEOSTAT_CHAOS: z._default(z.string(), ''),
  /** JSON: the FIS experiment template id per chaos experiment name (the stack creates them). */
  HOMEOSTAT_FIS_TEMPLATES: z._default(z.string(), '{}'),
  HOMEOSTAT_SCHEDULER_ROLE_ARN: z.string().check(z.minLength(1)),
  /** This function: its revert schedules invoke it. */
  HOMEOSTAT_CHAOS_FUNCTION_ARN: z.string().check(z.minLength(1)),
  HOMEOSTAT_SCHEDULE_GROUP: z._default(z.string(), 'default'),
});

export function chaosWiring() {
  const env = loadEnv(chaosEnvSchema);
  const config = chaosConfigFromEnv(env.HOMEOSTAT_CHAOS);
  let templates: Record<string, string>;
  try {
    templates = JSON.parse(env.HOMEOSTAT_FIS_TEMPLATES) as Record<string, string>;
  } catch {
    throw new ConfigurationError('HOMEOSTAT_FIS_TEMPLATES must be a JSON object');
  }
  const ecs = new ECSClient({ ...clientDefaults, maxAttempts: 8 });
  const ssm = new SSMClient(clientDefaults);
  const cloudwatch = createCloudWatchMetricsClient();
  const scheduler = new SchedulerClient(clientDefaults);
  const db = knowledgeDbConnector(env);
  const deadLetters = new SqsDeadLetters(createSqsClient(), env.HOMEOSTAT_DEAD_LETTER_QUEUE_URL);
  const injector = new EcsChaosInjector(
    ecs,
    ssm,
    Object.keys(templates).length > 0 ? { client: new FisClient(), templates } : null,
  );
  const stores = lazyAsync(async () => {
    const pool = await db();
    const registry = new PostgresPerceptionStore(pool);
    const health = new ServiceHealthReader(
      ecs,
      cloudwatch,
      async (ref) => (await registry.watchedService(ref))?.alarmPrefixes ?? [],
    );
    return { store: new PostgresChaosStore(pool), health };
  });
  return {
    env,
    config,
    async deps(): Promise<ChaosDeps & { deadLetters: SqsDeadLetters }> {
      const { store, health } = await stores();
      return {
        experiments: config.experiments,
        settings: chaosSettings(config),
        clock: systemClock,
        killSwitch: new SsmKillSwitch(ssm, env.HOMEOSTAT_KILL_SWITCH_PARAMETER),
        injector,
        alarmsInAlarm: (ref) => health.alarmsInAlarm(ref),
        store,
        scheduler: new OneTimeSchedules(scheduler, {
          functionArn: env.HOMEOSTAT_CHAOS_FUNCTION_ARN,
          roleArn: env.HOMEOSTAT_SCHEDULER_ROLE_ARN,
          groupName: env.HOMEOSTAT_SCHEDULE_GROUP,
        }),
        bus: new EventBridgePublisher(createEventBridgeClient(), env.HOMEOSTAT_BUS_NAME),
        newId: randomUUID,
        deadLetters,
      };
    },
  };
}
