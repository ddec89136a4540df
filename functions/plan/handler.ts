import { busAgentHandler } from '#shared/adapters/agent-handler.ts';
import { approvalSecret } from '#shared/adapters/approval-secret.ts';
import { lazy, lazyAsync } from '#shared/adapters/aws-clients.ts';
import { newNonce, remediationWiring } from '#shared/adapters/remediation-wiring.ts';
import type { DeadLetterSink } from '#shared/domain/ports.ts';
import { createLogger } from '#shared/observability/logger.ts';
import { createMetrics } from '#shared/observability/metrics.ts';
import { type PlanDeps, planRemediation } from '#shared/usecases/plan.ts';

/**
 * Plan agent: diagnosis.completed / remediation.failed → the first candidate
 * the policy allows → plan.approved, approval.requested or incident.escalated.
 */
const logger = createLogger('homeostat-plan');
const metrics = createMetrics('homeostat-plan');

const productionDeps = lazy(() => {
  const w = remediationWiring();
  const secret = approvalSecret(w.env.HOMEOSTAT_APPROVAL_SECRET_ARN, () => w.secrets);
  const built = lazyAsync(async (): Promise<Omit<PlanDeps, 'settings'> & { deadLetters: DeadLetterSink }> => {
    const s = await w.stores();
    return {
      ...s,
      killSwitch: w.killSwitch,
      approvals: { secret, baseUrl: w.env.HOMEOSTAT_APPROVAL_URL || null, newNonce },
      bus: w.bus,
      clock: w.clock,
      deadLetters: w.deadLetters,
    };
  });
  // The settings as their parameter holds them now (cached 60 s).
  return async (): Promise<PlanDeps & { deadLetters: DeadLetterSink }> => ({
    ...(await built()),
    settings: await w.settings(),
  });
});

export const handler = busAgentHandler({
  deps: () => productionDeps()(),
  logger,
  metrics,
  run: planRemediation,
  message: 'remediation planned',
});
