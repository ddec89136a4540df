/**
 * Builds what the remediation agents share from their environment: the
 * stores on one pool, the registry, the service-state and health readers,
 * the kill switch, the remediator, the verification scheduler and the bus.
 * Built once per container (warm invocations reuse clients and caches); the
 * remediation settings are read per invocation from their SSM parameter
 * (HOMEOSTAT_REMEDIATION_PARAMETER), cached for settingsMaxAgeSeconds (60 s).
 */
import { randomUUID } from 'node:crypto';
import { ECSClient } from '@aws-sdk/client-ecs';
import { SchedulerClient } from '@aws-sdk/client-scheduler';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SSMClient } from '@aws-sdk/client-ssm';
import * as z from 'zod/mini';
import { envWithDatabase, loadEnv } from '../config/env.ts';
import type { RemediationSettings } from '../config/remediation.ts';
import { ConfigurationError } from '../domain/errors.ts';
import type { PlanningKnowledge } from '../domain/planner.ts';
import { type Clock, type EventPublisher, systemClock } from '../domain/ports.ts';
import type { RootCause } from '../domain/taxonomy.ts';
import { clientDefaults, lazyAsync } from './aws-clients.ts';
import { createCloudWatchMetricsClient } from './cloudwatch.ts';
import type { Pool } from './database.ts';
import { createSqsClient, SqsDeadLetters } from './dead-letters.ts';
import { EcsRemediator } from './ecs-remediator.ts';
import { createEventBridgeClient, EventBridgePublisher } from './event-bus.ts';
import { SsmKillSwitch } from './kill-switch.ts';
import { knowledgeDbConnector } from './knowledge-db.ts';
import { PostgresKnowledgeStore } from './knowledge-store.ts';
import { PostgresPerceptionStore } from './perception-store.ts';
import { PostgresRemediationStore } from './remediation-store.ts';
import { ServiceHealthReader } from './service-health.ts';
import { ServiceStateReader } from './service-state.ts';
import { readRemediationSettings } from './settings-parameters.ts';
import { SchedulerVerification, verificationScheduleName } from './verification-scheduler.ts';

export const remediationEnvSchema = envWithDatabase({
  HOMEOSTAT_BUS_NAME: z.string().check(z.minLength(1)),
  HOMEOSTAT_DEAD_LETTER_QUEUE_URL: z.string().check(z.minLength(1)),
  HOMEOSTAT_KILL_SWITCH_PARAMETER: z.string().check(z.minLength(1)),
  /** The SSM parameter holding the remediation settings as JSON (shared/config/remediation.ts). */
  HOMEOSTAT_REMEDIATION_PARAMETER: z.string().check(z.startsWith('/')),
  HOMEOSTAT_APPROVAL_SECRET_ARN: z.optional(z.string().check(z.minLength(1))),
  /** The approval Function URL (links in approval.requested); unset: approve with the CLI. */
  HOMEOSTAT_APPROVAL_URL: z.optional(z.string()),
  /** Where one-time verification schedules point (act); verify reschedules to itself. */
  HOMEOSTAT_VERIFY_FUNCTION_ARN: z.optional(z.string().check(z.minLength(1))),
  HOMEOSTAT_SCHEDULER_ROLE_ARN: z.optional(z.string().check(z.minLength(1))),
  HOMEOSTAT_SCHEDULE_GROUP: z._default(z.string(), 'default'),
});
export type RemediationEnv = z.infer<typeof remediationEnvSchema>;

/** Remediation acts on production services: give throttled ECS calls more room than the default. */
const actingClientDefaults = { ...clientDefaults, maxAttempts: 8 };

export interface RemediationWiring {
  env: RemediationEnv;
  /**
   * The remediation settings as their parameter holds them now: cached for `maxAgeSeconds`
   * (60 s), so a deploy's change reaches warm functions within it. ConfigurationError when the
   * parameter is missing or invalid.
   */
  settings(): Promise<RemediationSettings>;
  clock: Clock;
  bus: EventPublisher;
  deadLetters: SqsDeadLetters;
  killSwitch: SsmKillSwitch;
  remediator: EcsRemediator;
  secrets: SecretsManagerClient;
  scheduleName: typeof verificationScheduleName;
  /** A scheduler whose schedules invoke `functionArn`. */
  schedulerFor(functionArn: string): SchedulerVerification;
  /** The pool-backed parts, built once the database is reachable. */
  stores(): Promise<{
    pool: Pool;
    store: PostgresRemediationStore;
    registry: PostgresPerceptionStore;
    serviceState: ServiceStateReader;
    health: ServiceHealthReader;
    knowledge(problem: { rootCause: RootCause; fingerprint: string }): Promise<PlanningKnowledge>;
  }>;
}

/** `options.maxAgeSeconds`: how long the settings read are reused (default 60; tests shorten it). */
export function remediationWiring(options: { maxAgeSeconds?: number } = {}): RemediationWiring {
  const env = loadEnv(remediationEnvSchema);
  const ecs = new ECSClient(actingClientDefaults);
  const ssm = new SSMClient(clientDefaults);
  const settings = () =>
    readRemediationSettings(ssm, env.HOMEOSTAT_REMEDIATION_PARAMETER, {
      maxAgeSeconds: options.maxAgeSeconds,
    });
  const secrets = new SecretsManagerClient(clientDefaults);
  const cloudwatch = createCloudWatchMetricsClient();
  const scheduler = new SchedulerClient(clientDefaults);
  const db = knowledgeDbConnector(env);
  return {
    env,
    settings,
    clock: systemClock,
    bus: new EventBridgePublisher(createEventBridgeClient(), env.HOMEOSTAT_BUS_NAME),
    deadLetters: new SqsDeadLetters(createSqsClient(), env.HOMEOSTAT_DEAD_LETTER_QUEUE_URL),
    killSwitch: new SsmKillSwitch(ssm, env.HOMEOSTAT_KILL_SWITCH_PARAMETER),
    remediator: new EcsRemediator(ecs, ssm, secrets),
    secrets,
    scheduleName: verificationScheduleName,
    schedulerFor(functionArn: string) {
      if (!env.HOMEOSTAT_SCHEDULER_ROLE_ARN)
        throw new ConfigurationError(
          'HOMEOSTAT_SCHEDULER_ROLE_ARN is not set: verification cannot be scheduled',
        );
      return new SchedulerVerification(scheduler, {
        functionArn,
        roleArn: env.HOMEOSTAT_SCHEDULER_ROLE_ARN,
        groupName: env.HOMEOSTAT_SCHEDULE_GROUP,
      });
    },
    stores: lazyAsync(async () => {
      const pool = await db();
      const store = new PostgresRemediationStore(pool);
      const registry = new PostgresPerceptionStore(pool);
      const knowledgeStore = new PostgresKnowledgeStore(pool);
      const alarmPrefixes = async (ref: { cluster: string; service: string }) =>
        (await registry.watchedService(ref))?.alarmPrefixes ?? [];
      return {
        pool,
        store,
        registry,
        serviceState: new ServiceStateReader(ecs, registry, async (ref, running) =>
          store.lastKnownGood(ref, running, (await settings()).minSteadyMs),
        ),
        health: new ServiceHealthReader(ecs, cloudwatch, alarmPrefixes),
        async knowledge(problem) {
          const solutions = await knowledgeStore.rankedSolutions(problem);
          return {
            solutions,
            // The runbooks' own order: the solves edges they wrote, heaviest first.
            runbookActions: solutions
              .filter((s) => s.edgeWeight > 0)
              .sort((a, b) => b.edgeWeight - a.edgeWeight)
              .map((s) => s.action),
          };
        },
      };
    }),
  };
}

export const newNonce = () => randomUUID();
