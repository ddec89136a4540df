/**
 * Warm latency of the remediation path, in process on real parts (the
 * emulator's ECS, CloudWatch and SSM; PGlite through the Neon driver):
 * diagnosis.completed in → plan → act → ECS UpdateService accepted. The time
 * spent waiting on the emulator is measured separately (SDK middleware).
 */
import { randomUUID } from 'node:crypto';
import { CloudWatchClient, PutMetricAlarmCommand, SetAlarmStateCommand } from '@aws-sdk/client-cloudwatch';
import { ECSClient } from '@aws-sdk/client-ecs';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SSMClient } from '@aws-sdk/client-ssm';
import { createCloudWatchMetricsClient } from '../shared/adapters/cloudwatch.ts';
import { EcsRemediator } from '../shared/adapters/ecs-remediator.ts';
import { SsmKillSwitch } from '../shared/adapters/kill-switch.ts';
import { PostgresPerceptionStore } from '../shared/adapters/perception-store.ts';
import { PostgresRemediationStore } from '../shared/adapters/remediation-store.ts';
import { ServiceHealthReader } from '../shared/adapters/service-health.ts';
import { ServiceStateReader } from '../shared/adapters/service-state.ts';
import { verificationScheduleName } from '../shared/adapters/verification-scheduler.ts';
import { parseRemediationConfig, remediationSettings } from '../shared/config/remediation.ts';
import { systemClock } from '../shared/domain/ports.ts';
import { detailTypes } from '../shared/events/detail-types.ts';
import { FakeBus, watched } from '../shared/testing/fakes.ts';
import { asBusEvent } from '../shared/testing/incidents.ts';
import { diagnosisCompletedEvent, offlineHypothesis } from '../shared/testing/remediation.ts';
import { executeAction } from '../shared/usecases/act.ts';
import { planRemediation } from '../shared/usecases/plan.ts';
import { localClientConfig } from './deploy-local.ts';
import { createEcsService } from './fixtures.ts';
import { startMigratedDatabase } from './migrate-local.ts';
import { percentile } from './stats.ts';

export interface ActionBenchResult {
  runs: number;
  p50Ms: number;
  p99Ms: number;
  emulatorP50Ms: number;
  emulatorSharePercent: number;
}

/** Adds up the time each client spends waiting on the emulator, and notes when UpdateService returns. */
type Next = (args: unknown) => Promise<unknown>;
interface WithMiddleware {
  middlewareStack: {
    add(middleware: (next: Next, context: { commandName?: string }) => Next, options: object): void;
  };
}

function timed<C>(client: C, clock: { emulatorMs: number; updatedAt: number | null }): C {
  (client as unknown as WithMiddleware).middlewareStack.add(
    (next, context) => async (args) => {
      const t = performance.now();
      try {
        return await next(args);
      } finally {
        clock.emulatorMs += performance.now() - t;
        if (context.commandName === 'UpdateServiceCommand') clock.updatedAt ??= performance.now();
      }
    },
    { step: 'initialize', name: 'benchTiming' },
  );
  return client;
}

export async function runActionBench(options: {
  endpoint: string;
  runs: number;
}): Promise<ActionBenchResult> {
  const config = localClientConfig(options.endpoint);
  const clock = { emulatorMs: 0, updatedAt: null as number | null };
  const ecs = timed(new ECSClient(config), clock);
  const ssm = timed(new SSMClient(config), clock);
  const cloudwatch = timed(createCloudWatchMetricsClient(config), clock);
  const plainCloudwatch = new CloudWatchClient(config);
  const database = await startMigratedDatabase();
  try {
    const store = new PostgresRemediationStore(database.pool);
    const registry = new PostgresPerceptionStore(database.pool);
    const settings = remediationSettings(parseRemediationConfig({ defaultAutonomy: 'auto' }));
    const bus = new FakeBus();
    const common = {
      store,
      registry,
      serviceState: new ServiceStateReader(ecs, registry, (r, running) => store.lastKnownGood(r, running, 0)),
      killSwitch: new SsmKillSwitch(ssm, '/homeostat-bench/kill-switch'),
      settings,
      bus,
      clock: systemClock,
    };
    const cluster = `bench-${randomUUID().slice(0, 6)}`;
    const totals: number[] = [];
    const emulator: number[] = [];
    for (let i = -2; i < options.runs; i++) {
      // Set-up, not timed: a watched service with an alarm in ALARM and a diagnosed incident.
      const service = `svc-${i + 2}`;
      const prefix = `homeostat-${cluster}-${service}-`;
      await createEcsService(ecs, cluster, service, 2);
      await plainCloudwatch.send(
        new PutMetricAlarmCommand({
          AlarmName: `${prefix}cpu`,
          Namespace: 'Bench',
          MetricName: `${service}-cpu`,
          Statistic: 'Average',
          Period: 60,
          EvaluationPeriods: 1,
          Threshold: 90,
          ComparisonOperator: 'GreaterThanThreshold',
        }),
      );
      await plainCloudwatch.send(
        new SetAlarmStateCommand({ AlarmName: `${prefix}cpu`, StateValue: 'ALARM', StateReason: 'bench' }),
      );
      await registry.registerService({ ...watched(cluster, service, [prefix]), maxTasks: 6 });
      const incidentId = randomUUID();
      const at = new Date();
      const now = at.toISOString();
      await database.pool.query(
        `INSERT INTO incidents (id, cluster, service, state, title, fingerprint, opened_at, updated_at, last_signal_at)
         VALUES ($1, $2, $3, 'diagnosing', 'cpu', $4, $5, $5, $5)`,
        [incidentId, cluster, service, `fp-${service}`, now],
      );
      await database.pool.query(
        `INSERT INTO diagnoses (incident_id, provider, hypotheses, recommended_actions, insufficient_evidence,
                                evidence, steps, input_tokens, output_tokens, cost_usd, started_at, completed_at)
         VALUES ($1, 'offline', $2, '{scale_out}', false, '[]', 0, 0, 0, 0, $3, $3)`,
        [incidentId, JSON.stringify([offlineHypothesis('cpu_saturation', service)]), now],
      );
      const diagnosed = diagnosisCompletedEvent({
        incidentId,
        cluster,
        service,
        rootCause: 'cpu_saturation',
        actions: ['scale_out'],
        at,
      });

      clock.emulatorMs = 0;
      clock.updatedAt = null;
      const t0 = performance.now();
      await planRemediation(asBusEvent(diagnosed), {
        ...common,
        knowledge: async () => ({ solutions: [], runbookActions: [] }),
        approvals: { secret: async () => '', baseUrl: null, newNonce: randomUUID },
      });
      const approved = bus.published.filter((e) => e.type === detailTypes.planApproved).at(-1);
      if (!approved) throw new Error('the bench incident was not planned');
      const emulatorAtUpdate = { value: 0 };
      await executeAction(asBusEvent(approved), {
        ...common,
        remediator: new EcsRemediator(ecs, ssm, new SecretsManagerClient(config)),
        health: new ServiceHealthReader(ecs, cloudwatch, async () => [prefix]),
        scheduler: {
          schedule: async () => {
            emulatorAtUpdate.value = clock.emulatorMs;
            return 'created';
          },
        },
        scheduleName: verificationScheduleName,
      });
      if (clock.updatedAt === null) throw new Error('UpdateService was not called');
      if (i >= 0) {
        totals.push(clock.updatedAt - t0);
        emulator.push(emulatorAtUpdate.value);
      }
    }
    const p50 = percentile(totals, 50) ?? 0;
    const emulatorP50 = percentile(emulator, 50) ?? 0;
    return {
      runs: totals.length,
      p50Ms: p50,
      p99Ms: percentile(totals, 99) ?? 0,
      emulatorP50Ms: emulatorP50,
      emulatorSharePercent: p50 > 0 ? (100 * emulatorP50) / p50 : 0,
    };
  } finally {
    await database.stop();
    plainCloudwatch.destroy();
  }
}
