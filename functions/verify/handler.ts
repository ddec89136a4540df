import { busAgentHandler } from '#shared/adapters/agent-handler.ts';
import { lazy, lazyAsync } from '#shared/adapters/aws-clients.ts';
import { republishStale } from '#shared/adapters/outbox-relay.ts';
import { remediationWiring } from '#shared/adapters/remediation-wiring.ts';
import { PostgresSweepStore } from '#shared/adapters/sweep-store.ts';
import type { DeadLetterSink } from '#shared/domain/ports.ts';
import { isScheduledEvent } from '#shared/events/bus-event.ts';
import { createLogger } from '#shared/observability/logger.ts';
import { createMetrics } from '#shared/observability/metrics.ts';
import { type SweepDeps, type SweepResult, sweep } from '#shared/usecases/sweep.ts';
import { type VerifyResult, verifyAction } from '#shared/usecases/verify.ts';

/**
 * Verify agent, invoked by one-time EventBridge Scheduler schedules:
 * verification.due → resolved, re-checked later (a schedule back to itself),
 * or undone → remediation.failed / incident.escalated. A rule invokes it
 * every minute to sweep: abandoned steps, overdue checks, stalled incidents,
 * expired approvals and unpublished outbox rows (usecases/sweep.ts).
 */
const logger = createLogger('homeostat-verify');
const metrics = createMetrics('homeostat-verify');

/** The function's own ARN without a version or alias: re-checks are scheduled back to it. */
const unqualified = (arn: string) => arn.split(':').slice(0, 7).join(':');

type Deps = SweepDeps & { deadLetters: DeadLetterSink };

const productionDeps = lazy(() => {
  const w = remediationWiring();
  return (functionArn: string) => {
    const built = lazyAsync(async (): Promise<Omit<Deps, 'settings'>> => {
      const stores = await w.stores();
      return {
        ...stores,
        remediator: w.remediator,
        killSwitch: w.killSwitch,
        scheduler: w.schedulerFor(unqualified(functionArn)),
        scheduleName: w.scheduleName,
        bus: w.bus,
        clock: w.clock,
        deadLetters: w.deadLetters,
        sweepStore: new PostgresSweepStore(stores.pool),
        republish: async (now) =>
          (await republishStale({ db: stores.pool, bus: w.bus, now })).published.length,
      };
    });
    // The settings as their parameter holds them now (cached 60 s).
    return async (): Promise<Deps> => ({ ...(await built()), settings: await w.settings() });
  };
});
let deps: (() => Promise<Deps>) | undefined;

/** One metric per kind of repair: the dashboard's "sweep repairs" widget and its alarm read them. */
function countRepairs(result: SweepResult) {
  for (const repair of result.repairs) metrics.addMetric(`SweepRepair_${repair.kind}`, 'Count', 1);
  if (result.approvalsExpired > 0)
    metrics.addMetric('SweepRepair_approval_expired', 'Count', result.approvalsExpired);
  if (result.republished > 0) metrics.addMetric('SweepRepair_republished', 'Count', result.republished);
  if (result.failures.length > 0) {
    metrics.addMetric('SweepFailures', 'Count', result.failures.length);
    logger.error('sweep repairs failed; the next sweep tries again', { failures: result.failures });
  }
}

export const handler = busAgentHandler<Deps, VerifyResult | SweepResult>({
  deps: (context): Promise<Deps> => {
    deps ??= productionDeps()(context.invokedFunctionArn);
    return deps();
  },
  logger,
  metrics,
  run: async (event, d) => {
    if (!isScheduledEvent(event)) return verifyAction(event, d);
    const result = await sweep(d);
    countRepairs(result);
    return result;
  },
  message: 'verification handled',
});
