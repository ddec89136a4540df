/**
 * Builds what the chaos agent needs from its environment: once per container
 * the clients, the kill switch, the store on the knowledge database, the
 * revert scheduler (its schedules invoke this same function) and the bus; per
 * invocation the experiments and guardrails, read from the SSM parameters under
 * HOMEOSTAT_CHAOS_PARAMETERS_PATH (cached for settingsMaxAgeSeconds, 60 s), and
 * the injector (ECS, SSM, and FIS with the templates those parameters name).
 */
import { randomUUID } from 'node:crypto';
import { ECSClient } from '@aws-sdk/client-ecs';
import { SchedulerClient } from '@aws-sdk/client-scheduler';
import { SSMClient } from '@aws-sdk/client-ssm';
import * as z from 'zod/mini';
import { chaosSettings, parseChaosSettings } from '../config/chaos.ts';
import { envWithDatabase, loadEnv } from '../config/env.ts';
import { systemClock } from '../domain/ports.ts';
import type { ChaosDeps } from '../usecases/chaos.ts';
import { clientDefaults, lazy, lazyAsync } from './aws-clients.ts';
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
import { readChaosParameters, type SkippedParameter } from './settings-parameters.ts';
import { OneTimeSchedules } from './verification-scheduler.ts';

export const chaosEnvSchema = envWithDatabase({
  HOMEOSTAT_BUS_NAME: z.string().check(z.minLength(1)),
  HOMEOSTAT_DEAD_LETTER_QUEUE_URL: z.string().check(z.minLength(1)),
  HOMEOSTAT_KILL_SWITCH_PARAMETER: z.string().check(z.minLength(1)),
  /** The SSM path holding the chaos settings and one parameter per experiment (shared/config/settings-parameters.ts). */
  HOMEOSTAT_CHAOS_PARAMETERS_PATH: z.string().check(z.regex(/^\/[\w.\-/]*[\w.-]$/)),
  HOMEOSTAT_SCHEDULER_ROLE_ARN: z.string().check(z.minLength(1)),
  /** This function: its revert schedules invoke it. */
  HOMEOSTAT_CHAOS_FUNCTION_ARN: z.string().check(z.minLength(1)),
  HOMEOSTAT_SCHEDULE_GROUP: z._default(z.string(), 'default'),
});

/** What the wiring reports on its own: experiments it skipped (a Powertools Logger fits). */
export interface ChaosWiringLog {
  warn(message: string, extra: { skipped: SkippedParameter[] } | { error: unknown }): void;
}

/**
 * The chaos agent's wiring. `options.maxAgeSeconds` is how long the experiments read are reused
 * (default 60; tests shorten it). Throws ConfigurationError at once for a bad environment.
 */
export function chaosWiring(options: { maxAgeSeconds?: number } = {}) {
  const env = loadEnv(chaosEnvSchema);
  const ecs = new ECSClient({ ...clientDefaults, maxAttempts: 8 });
  const ssm = new SSMClient(clientDefaults);
  const cloudwatch = createCloudWatchMetricsClient();
  const scheduler = new SchedulerClient(clientDefaults);
  const db = knowledgeDbConnector(env);
  const deadLetters = new SqsDeadLetters(createSqsClient(), env.HOMEOSTAT_DEAD_LETTER_QUEUE_URL);
  const fis = lazy(() => new FisClient());
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
  /**
   * The experiments and guardrails as the parameters hold them now (within the cache age).
   * Invalid experiment parameters are left out and reported to `log` once per value read;
   * a missing or invalid settings parameter throws ConfigurationError.
   */
  const chaos = (log?: ChaosWiringLog) =>
    readChaosParameters(ssm, env.HOMEOSTAT_CHAOS_PARAMETERS_PATH, {
      maxAgeSeconds: options.maxAgeSeconds,
      onSkipped: (skipped) =>
        log?.warn('chaos experiments skipped: their parameters are invalid; they never run', { skipped }),
    });
  return {
    env,
    chaos,
    /** Everything one invocation needs, with the experiments read through `chaos`. */
    async deps(log?: ChaosWiringLog): Promise<ChaosDeps & { deadLetters: SqsDeadLetters }> {
      // Reverts and the kill-switch sweep must not depend on reading the parameters: when they
      // cannot be read (SSM throttled, a settings parameter missing or invalid) no experiment can
      // start — none is known — while reverts run with the default revert settings.
      const parameters = await chaos(log).catch((error: unknown) => {
        log?.warn('chaos parameters unreadable: no experiment can start; reverts and the sweep go on', {
          error,
        });
        return { experiments: [], settings: parseChaosSettings({}, 'defaults'), fisTemplates: {} };
      });
      const { store, health } = await stores();
      return {
        experiments: parameters.experiments,
        settings: chaosSettings(parameters.settings),
        clock: systemClock,
        killSwitch: new SsmKillSwitch(ssm, env.HOMEOSTAT_KILL_SWITCH_PARAMETER),
        // The FIS client always: stopping an experiment (a revert, the kill switch) needs no template.
        injector: new EcsChaosInjector(ecs, ssm, { client: fis(), templates: parameters.fisTemplates }),
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
