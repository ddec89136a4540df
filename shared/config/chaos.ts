import * as z from 'zod/mini';
import { type ChaosSettings, type Experiment, weekdays } from '../domain/chaos.ts';
import { ConfigurationError } from '../domain/errors.ts';
import { rootCauses } from '../domain/taxonomy.ts';
import { describeIssues } from '../events/zod.ts';

/**
 * Chaos experiments and their guardrails: CDK context `homeostat:chaos`
 * (every field optional). The deploy writes them to SSM Parameter Store, one
 * String parameter per experiment and one for the guardrails and revert
 * retries (shared/config/settings-parameters.ts); the chaos agent reads them
 * back and validates them with these same schemas. Scheduled experiments
 * become EventBridge Scheduler schedules, disabled unless `schedule.enabled` is true.
 */
const name = () => z.string().check(z.regex(/^[a-z0-9][a-z0-9-]{0,47}$/));
const hhmm = () => z.string().check(z.regex(/^([01]\d|2[0-3]):[0-5]\d$/));

const stopTasks = z.object({
  kind: z.literal('stop_tasks'),
  /** Share of the running tasks to stop (at least one). */
  share: z._default(z.number().check(z.gt(0), z.lte(1)), 0.34),
});
const scaleTo = z.object({ kind: z.literal('scale_to'), desiredCount: z.int().check(z.gte(0)) });
const badDeployment = z.object({
  kind: z.literal('bad_deployment'),
  /** What is broken in the new revision of the essential container. */
  fault: z._default(z.enum(['image', 'environment', 'command']), 'command'),
  /** For `environment`: the variable and its broken value. */
  variable: z._default(z.string().check(z.minLength(1)), 'HOMEOSTAT_CHAOS_BROKEN'),
  value: z._default(z.string(), 'broken'),
});
const breakDependency = z.object({
  kind: z.literal('break_dependency'),
  /** The SSM parameter the application reads its dependency's endpoint from. */
  parameterName: z.string().check(z.regex(/^\/[\w.\-/]+$/)),
  badValue: z._default(z.string().check(z.minLength(1)), 'http://homeostat-chaos.invalid:81'),
});
const fis = z.object({
  kind: z.literal('fis'),
  /** An AWS FIS ECS task action, run by an experiment template the stack creates. */
  action: z.enum(['cpu_stress', 'io_stress', 'network_latency', 'network_packet_loss']),
  /** Share of the service's tasks the action targets, in percent. */
  percentage: z._default(z.int().check(z.gte(1), z.lte(100)), 50),
  /** Alarms (names) that stop the FIS experiment when they fire; at least one. */
  stopAlarms: z.array(z.string().check(z.minLength(1))).check(z.minLength(1)),
});

export const experimentConfigSchema = z.object({
  name: name(),
  target: z.object({ cluster: z.string().check(z.minLength(1)), service: z.string().check(z.minLength(1)) }),
  fault: z.discriminatedUnion('kind', [stopTasks, scaleTo, badDeployment, breakDependency, fis]),
  /** Reverted this long after the injection, whether or not Homeostat repaired it. */
  durationMinutes: z._default(z.int().check(z.gte(1), z.lte(240)), 15),
  /** The root cause a correct diagnosis names; the fault's own by default. */
  expectedRootCause: z.optional(z.enum(rootCauses)),
  schedule: z.optional(
    z.object({
      /** cron(…), rate(…) or at(…), as EventBridge Scheduler takes them. */
      expression: z.string().check(z.regex(/^(cron|rate|at)\(.+\)$/)),
      timezone: z._default(z.string().check(z.minLength(1)), 'UTC'),
      /** Scheduler may start it up to this many minutes late (spreads load); 0: exactly on time. */
      flexibleWindowMinutes: z._default(z.int().check(z.gte(0), z.lte(1440)), 0),
      /** Disabled unless you say so. */
      enabled: z._default(z.boolean(), false),
    }),
  ),
});

/**
 * One experiment's parameter: the experiment as configured, plus the id of the FIS experiment
 * template the stack created for it (`fis` faults only; filled in by the deploy, not by you).
 */
export const experimentParameterSchema = z.extend(experimentConfigSchema, {
  fisTemplateId: z.optional(z.string().check(z.minLength(1))),
});
export type ExperimentParameter = z.infer<typeof experimentParameterSchema>;

/** Everything but the experiments: the chaos settings parameter holds this. */
export const chaosSettingsSchema = z.object({
  guardrails: z.prefault(
    z.object({
      /** Experiments injected and not yet reverted, across every service. */
      maxConcurrent: z._default(z.int().check(z.gte(1)), 1),
      /** Blast radius: the largest share of a service's tasks one experiment may take away. */
      maxTaskShare: z._default(z.number().check(z.gt(0), z.lte(1)), 0.5),
      /** Never leave fewer running tasks than this. */
      minHealthyTasks: z._default(z.int().check(z.gte(0)), 1),
      /** scale_to may grow a service to at most this multiple of its desired count. */
      maxScaleUpFactor: z._default(z.number().check(z.gte(1)), 2),
      /** When chaos may run; empty: any time. */
      windows: z._default(
        z.array(
          z.object({
            days: z._default(z.array(z.enum(weekdays)), ['mon', 'tue', 'wed', 'thu', 'fri']),
            start: hhmm(),
            end: hhmm(),
            timezone: z._default(z.string(), 'UTC'),
          }),
        ),
        [],
      ),
      /** Change freezes: no chaos from `from` to `to` (ISO times). */
      freezes: z._default(
        z.array(
          z.object({
            from: z.iso.datetime({ offset: true }),
            to: z.iso.datetime({ offset: true }),
            reason: z._default(z.string(), 'change freeze'),
          }),
        ),
        [],
      ),
    }),
    {},
  ),
  revert: z.prefault(
    z.object({
      /** Revert attempts before the experiment is escalated as revert_failed. */
      maxAttempts: z._default(z.int().check(z.gte(1), z.lte(10)), 5),
      /** First retry delay; doubles per attempt. */
      retrySeconds: z._default(z.int().check(z.gte(10)), 60),
    }),
    {},
  ),
});
export type ChaosSettingsConfig = z.infer<typeof chaosSettingsSchema>;

export const chaosConfigSchema = z.extend(chaosSettingsSchema, {
  experiments: z._default(z.array(experimentConfigSchema), []),
});
export type ChaosConfig = z.infer<typeof chaosConfigSchema>;

/**
 * Validates the whole chaos configuration (context `homeostat:chaos`, at synth); throws a
 * ConfigurationError naming `where` and every problem: schema, repeated names, unknown time zones.
 */
export function parseChaosConfig(value: unknown, where = 'chaos configuration'): ChaosConfig {
  const parsed = chaosConfigSchema.safeParse(value ?? {});
  if (!parsed.success) throw new ConfigurationError(`${where}: ${describeIssues(parsed.error).join('; ')}`);
  const names = parsed.data.experiments.map((e) => e.name);
  const repeated = names.filter((n, i) => names.indexOf(n) !== i);
  if (repeated.length > 0)
    throw new ConfigurationError(
      `${where}: experiment names must be unique (${[...new Set(repeated)].join(', ')})`,
    );
  const unknown = unknownZones([
    ...parsed.data.guardrails.windows.map((w) => w.timezone),
    ...parsed.data.experiments.flatMap((e) => (e.schedule ? [e.schedule.timezone] : [])),
  ]);
  if (unknown) throw new ConfigurationError(`${where}: ${unknown}`);
  return parsed.data;
}

/** Validates the chaos settings parameter (guardrails, revert retries); throws a ConfigurationError naming `where`. */
export function parseChaosSettings(value: unknown, where: string): ChaosSettingsConfig {
  const parsed = chaosSettingsSchema.safeParse(value ?? {});
  if (!parsed.success) throw new ConfigurationError(`${where}: ${describeIssues(parsed.error).join('; ')}`);
  const unknown = unknownZones(parsed.data.guardrails.windows.map((w) => w.timezone));
  if (unknown) throw new ConfigurationError(`${where}: ${unknown}`);
  return parsed.data;
}

/**
 * Checks one experiment's parameter value (already JSON-decoded) with the schema the synth used.
 * Never throws: an invalid one is `{ok: false, reason}` (every problem, by field), so the agent
 * can skip it and keep the others.
 */
export function checkExperiment(
  value: unknown,
): { ok: true; experiment: ExperimentParameter } | { ok: false; reason: string } {
  const parsed = experimentParameterSchema.safeParse(value);
  if (!parsed.success) return { ok: false, reason: describeIssues(parsed.error).join('; ') };
  const unknown = unknownZones(parsed.data.schedule ? [parsed.data.schedule.timezone] : []);
  return unknown ? { ok: false, reason: unknown } : { ok: true, experiment: parsed.data };
}

/** A message naming the zones Intl does not know, or null when it knows them all. */
function unknownZones(zones: string[]): string | null {
  const unknown = zones.filter((zone) => !isTimeZone(zone));
  return unknown.length > 0 ? `unknown time zone(s): ${[...new Set(unknown)].join(', ')}` : null;
}

const isTimeZone = (zone: string) => {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
};

/** The domain's view of the configuration. */
export function chaosSettings(config: ChaosSettingsConfig): ChaosSettings {
  return { guardrails: config.guardrails, revert: config.revert };
}

/** The configured experiment of that name (the domain's view), or null. */
export function experimentNamed(config: ChaosConfig, name: string): Experiment | null {
  return config.experiments.find((e) => e.name === name) ?? null;
}
