import { busAgentHandler } from '#shared/adapters/agent-handler.ts';
import { lazy } from '#shared/adapters/aws-clients.ts';
import { loopGauges } from '#shared/adapters/incident-views.ts';
import { learnWiring } from '#shared/adapters/learning-wiring.ts';
import { InvalidEventError } from '#shared/domain/errors.ts';
import { isScheduledEvent } from '#shared/events/bus-event.ts';
import { alarmStateChangeSchema } from '#shared/events/cloudwatch-alarm.ts';
import { describeIssues } from '#shared/events/zod.ts';
import { createLogger } from '#shared/observability/logger.ts';
import { createMetrics } from '#shared/observability/metrics.ts';
import { notifyIncident, notifyOwnAlarm } from '#shared/usecases/notify.ts';

/**
 * Notify agent, three doors:
 * - incident events on the homeostat bus → the incident's one narrative, brought up to date in Slack / SNS;
 * - Homeostat's own alarms (CloudWatch Alarm State Change) → the same channels;
 * - a heartbeat every few minutes → gauges for the dashboard and self-alarms
 *   (open incidents, pending approvals, kill switch engaged).
 */
const logger = createLogger('homeostat-notify');
const metrics = createMetrics('homeostat-notify');
const wiring = lazy(learnWiring);
type Deps = Awaited<ReturnType<ReturnType<typeof learnWiring>['notifyDeps']>>;

async function dispatch(event: unknown, deps: Deps) {
  if (isScheduledEvent(event)) {
    const gauges = await loopGauges(deps.pool);
    const killSwitch = deps.killSwitch ? await deps.killSwitch.read() : { engaged: false };
    metrics.addMetric('OpenIncidents', 'Count', gauges.openIncidents);
    metrics.addMetric('PendingApprovals', 'Count', gauges.pendingApprovals);
    metrics.addMetric('KillSwitchEngaged', 'Count', killSwitch.engaged ? 1 : 0);
    return { outcome: 'heartbeat', ...gauges, killSwitchEngaged: killSwitch.engaged };
  }
  if ((event as { source?: unknown } | null)?.source === 'aws.cloudwatch') {
    const parsed = alarmStateChangeSchema.safeParse(event);
    if (!parsed.success)
      throw new InvalidEventError('not a CloudWatch alarm state change', describeIssues(parsed.error));
    const d = parsed.data.detail;
    const channels = await notifyOwnAlarm(
      {
        name: d.alarmName,
        state: d.state.value,
        reason: d.state.reason ?? '',
        description: d.configuration?.description ?? null,
      },
      deps,
    );
    return { outcome: 'alarm_notified', alarm: d.alarmName, channels };
  }
  return notifyIncident(event, {
    ...deps,
    log: (message, detail) => logger.warn(message, detail),
  });
}

export const handler = busAgentHandler({
  deps: () => wiring().notifyDeps(),
  logger,
  metrics,
  run: dispatch,
  message: 'notification handled',
});
