import { busAgentHandler } from '#shared/adapters/agent-handler.ts';
import { lazy, lazyAsync } from '#shared/adapters/aws-clients.ts';
import { remediationWiring } from '#shared/adapters/remediation-wiring.ts';
import type { DeadLetterSink } from '#shared/domain/ports.ts';
import { createLogger } from '#shared/observability/logger.ts';
import { createMetrics } from '#shared/observability/metrics.ts';
import { type VerifyDeps, verifyAction } from '#shared/usecases/verify.ts';

/**
 * Verify agent, invoked by one-time EventBridge Scheduler schedules:
 * verification.due → resolved, re-checked later (a schedule back to itself),
 * or undone → remediation.failed / incident.escalated.
 */
const logger = createLogger('homeostat-verify');
const metrics = createMetrics('homeostat-verify');

/** The function's own ARN without a version or alias: re-checks are scheduled back to it. */
const unqualified = (arn: string) => arn.split(':').slice(0, 7).join(':');

const productionDeps = lazy(() => {
  const w = remediationWiring();
  return (functionArn: string) =>
    lazyAsync(
      async (): Promise<VerifyDeps & { deadLetters: DeadLetterSink }> => ({
        ...(await w.stores()),
        settings: w.settings,
        remediator: w.remediator,
        killSwitch: w.killSwitch,
        scheduler: w.schedulerFor(unqualified(functionArn)),
        scheduleName: w.scheduleName,
        bus: w.bus,
        clock: w.clock,
        deadLetters: w.deadLetters,
      }),
    );
});
type Deps = VerifyDeps & { deadLetters: DeadLetterSink };
let deps: (() => Promise<Deps>) | undefined;

export const handler = busAgentHandler<Deps, Awaited<ReturnType<typeof verifyAction>>>({
  deps: (context): Promise<Deps> => {
    deps ??= productionDeps()(context.invokedFunctionArn);
    return deps();
  },
  logger,
  metrics,
  run: verifyAction,
  message: 'verification handled',
});
