import { busAgentHandler } from '#shared/adapters/agent-handler.ts';
import { lazy, lazyAsync } from '#shared/adapters/aws-clients.ts';
import { remediationWiring } from '#shared/adapters/remediation-wiring.ts';
import { ConfigurationError } from '#shared/domain/errors.ts';
import type { DeadLetterSink } from '#shared/domain/ports.ts';
import { createLogger } from '#shared/observability/logger.ts';
import { createMetrics } from '#shared/observability/metrics.ts';
import { type ActDeps, executeAction } from '#shared/usecases/act.ts';

/**
 * Act agent: plan.approved → policy re-checked → snapshot → ECS operations (or
 * a dry run) → action.executed → a one-time verification schedule.
 */
const logger = createLogger('homeostat-act');
const metrics = createMetrics('homeostat-act');

const productionDeps = lazy(() => {
  const w = remediationWiring();
  const verifyArn = w.env.HOMEOSTAT_VERIFY_FUNCTION_ARN;
  if (!verifyArn) throw new ConfigurationError('HOMEOSTAT_VERIFY_FUNCTION_ARN is not set');
  const scheduler = w.schedulerFor(verifyArn);
  const built = lazyAsync(
    async (): Promise<Omit<ActDeps, 'settings'> & { deadLetters: DeadLetterSink }> => ({
      ...(await w.stores()),
      killSwitch: w.killSwitch,
      remediator: w.remediator,
      scheduler,
      scheduleName: w.scheduleName,
      bus: w.bus,
      clock: w.clock,
      deadLetters: w.deadLetters,
    }),
  );
  // The settings as their parameter holds them now (cached 60 s).
  return async (): Promise<ActDeps & { deadLetters: DeadLetterSink }> => ({
    ...(await built()),
    settings: await w.settings(),
  });
});

export const handler = busAgentHandler({
  deps: () => productionDeps()(),
  logger,
  metrics,
  run: executeAction,
  message: 'action handled',
});
