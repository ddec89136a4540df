/**
 * A large, realistic CDK context for scale checks (`npm run lint:cfn` synthesizes it):
 * by default 500 watched services over 20 clusters and 100 chaos experiments of every
 * kind in shared/config/chaos.ts. Deterministic: the same options give the same context.
 *
 *   tsx infra/scale-context.ts [services] [experiments] > scale.context.json
 */

import type * as z from 'zod/mini';
import { runScript } from '../localstack/script.ts';
import type { chaosConfigSchema } from '../shared/config/chaos.ts';
import type { WatchedServiceProps } from './constructs/watched-service.ts';

export interface ScaleOptions {
  /** Watched services. @default 500 */
  readonly services?: number;
  /** ECS clusters the services are spread over (round robin). @default 20 */
  readonly clusters?: number;
  /** Chaos experiments, cycling through the fault kinds, each on a different service while there are enough. @default 100 */
  readonly experiments?: number;
}

/** CDK context keys and values, as cdk.json or `-c` would give them. */
export interface ScaleContext {
  readonly 'homeostat:watchedServices': WatchedServiceProps[];
  readonly 'homeostat:chaos': z.input<typeof chaosConfigSchema>;
}

const pad = (n: number, width: number) => String(n).padStart(width, '0');
const hex16 = (n: number) => (n * 2_654_435_761).toString(16).padStart(16, '0').slice(-16);

/**
 * The services: every third behind an ALB target group (so it gets the 5xx, latency and
 * unhealthy-host alarms), every fourth with task roles, every fifth with maintenance tasks.
 */
function watchedServices(count: number, clusters: number): WatchedServiceProps[] {
  return Array.from({ length: count }, (_, i) => {
    const cluster = `cluster-${pad((i % clusters) + 1, 2)}`;
    const service = `svc-${pad(i + 1, 3)}`;
    return {
      cluster,
      service,
      ...(i % 3 === 0
        ? {
            targetGroup: {
              targetGroupFullName: `targetgroup/${service}/${hex16(i + 1)}`,
              loadBalancerFullName: `app/${cluster}-alb/${hex16(i % clusters)}`,
            },
          }
        : {}),
      ...(i % 4 === 0 ? { taskRoles: [`${service}-task`, `${service}-execution`] } : {}),
      ...(i % 5 === 0 ? { maintenanceTasks: [`${service}-migrate`, `${service}-reindex:3`] } : {}),
      minTasks: 2,
      maxTasks: 20,
    };
  });
}

type ExperimentInput = NonNullable<ScaleContext['homeostat:chaos']['experiments']>[number];

const faults: ((service: string) => ExperimentInput['fault'])[] = [
  () => ({ kind: 'stop_tasks', share: 0.25 }),
  () => ({ kind: 'scale_to', desiredCount: 1 }),
  () => ({ kind: 'bad_deployment', fault: 'command' }),
  (service) => ({ kind: 'break_dependency', parameterName: `/apps/${service}/dependency-url` }),
  (service) => ({
    kind: 'fis',
    action: 'cpu_stress',
    percentage: 25,
    stopAlarms: [`homeostat-${service}-cpu`],
  }),
];

/** Experiments cycle through the fault kinds; every other one is scheduled (disabled, as by default). */
function experiments(count: number, services: WatchedServiceProps[]): ExperimentInput[] {
  // bad_deployment needs the target's task roles: pick from the services that declare them.
  const withRoles = services.filter((s) => s.taskRoles?.length);
  return Array.from({ length: count }, (_, i) => {
    const fault = faults[i % faults.length];
    const pool = i % faults.length === 2 && withRoles.length > 0 ? withRoles : services;
    const target = pool[i % pool.length];
    if (!fault || !target) throw new Error('scaleContext: needs at least one watched service');
    return {
      name: `game-day-${pad(i + 1, 3)}`,
      target: { cluster: target.cluster, service: target.service },
      fault: fault(target.service),
      durationMinutes: 15,
      ...(i % 2 === 0
        ? { schedule: { expression: `cron(0 ${9 + (i % 8)} ? * TUE *)`, timezone: 'Europe/Berlin' } }
        : {}),
    };
  });
}

/** The context for `options` (see ScaleOptions for the defaults). */
export function scaleContext(options: ScaleOptions = {}): ScaleContext {
  const services = watchedServices(options.services ?? 500, options.clusters ?? 20);
  return {
    'homeostat:watchedServices': services,
    'homeostat:chaos': { experiments: experiments(options.experiments ?? 100, services) },
  };
}

runScript(import.meta.url, async () => {
  const [services, experimentCount] = process.argv.slice(2).map((arg) => {
    const n = Number(arg);
    if (!Number.isInteger(n) || n < 0) throw new Error(`scale-context: ${arg} is not a count`);
    return n;
  });
  process.stdout.write(
    `${JSON.stringify(scaleContext({ services, experiments: experimentCount }), null, 2)}\n`,
  );
});
