import { describe, expect, it } from 'vitest';
import { withEnvelopeDefaults } from '../events/envelope-defaults.ts';
import { parseInbound } from '../events/inbound.ts';
import { compositeAlarmEvent, ecsMetricAlarmEvent, metricMathAlarmEvent } from '../testing/alarm-events.ts';
import {
  compositeAlarmSuppressedEvent,
  fargateSpotInterruptionEvent,
  fargateSpotPlacementFailureEvent,
  fargateSpotTerminationNoticeEvent,
} from '../testing/aws-doc-events.ts';
import {
  appSignalEvent,
  chaosMarkerEvent,
  deploymentEvent,
  serviceActionEvent,
  taskStoppedEvent,
} from '../testing/ecs-events.ts';
import { limits, serviceFromArn, toSignal } from './signal.ts';

const signalOf = (event: unknown) => {
  const parsed = parseInbound(event);
  if (parsed.status !== 'known') throw new Error('expected a known event');
  return toSignal(parsed.inbound, event);
};

describe('service resolution from the event', () => {
  it.each([
    [
      'metric alarm dimensions',
      ecsMetricAlarmEvent({ cluster: 'shop', service: 'api' }),
      { cluster: 'shop', service: 'api' },
    ],
    [
      'metric-math alarm metrics',
      metricMathAlarmEvent({ cluster: 'shop', service: 'cart' }),
      { cluster: 'shop', service: 'cart' },
    ],
    ['composite alarm (none)', compositeAlarmEvent(), null],
    ['alarm with only ClusterName (none)', ecsMetricAlarmEvent({ cluster: 'shop' }), null],
    [
      'task group service:NAME + clusterArn',
      taskStoppedEvent({ cluster: 'shop', service: 'api' }),
      { cluster: 'shop', service: 'api' },
    ],
    [
      'standalone task, no service group (none)',
      taskStoppedEvent({ cluster: 'shop', group: 'family:batch' }),
      null,
    ],
    [
      'deployment event service ARN',
      deploymentEvent({ cluster: 'shop', service: 'api' }),
      { cluster: 'shop', service: 'api' },
    ],
    [
      'service action service ARN',
      serviceActionEvent({ cluster: 'shop', service: 'api' }),
      { cluster: 'shop', service: 'api' },
    ],
    ['app signal', appSignalEvent({ cluster: 'shop', service: 'web' }), { cluster: 'shop', service: 'web' }],
    [
      'chaos marker',
      chaosMarkerEvent({ cluster: 'shop', service: 'api' }),
      { cluster: 'shop', service: 'api' },
    ],
  ])('%s', (_name, event, expected) => {
    expect(signalOf(event).service).toEqual(expected);
  });

  it('reads the old service ARN format with the cluster from the detail', () => {
    expect(
      serviceFromArn('arn:aws:ecs:us-west-2:1:service/api', 'arn:aws:ecs:us-west-2:1:cluster/shop'),
    ).toEqual({
      cluster: 'shop',
      service: 'api',
    });
    expect(serviceFromArn('arn:aws:ecs:us-west-2:1:service/api')).toBeNull();
  });
});

describe('classification', () => {
  it.each([
    ['alarm ALARM', 'fault', ecsMetricAlarmEvent({ state: 'ALARM' })],
    ['alarm OK', 'recovery', ecsMetricAlarmEvent({ state: 'OK', previousState: 'ALARM' })],
    ['alarm INSUFFICIENT_DATA', 'benign', ecsMetricAlarmEvent({ state: 'INSUFFICIENT_DATA' })],
    ['OOM-killed essential container (exit 137)', 'fault', taskStoppedEvent()],
    [
      'essential container exited 1',
      'fault',
      taskStoppedEvent({ exitCode: 1, containerReason: 'Error: connect ECONNREFUSED 10.0.1.12:5432' }),
    ],
    [
      'failed ELB health checks',
      'fault',
      taskStoppedEvent({
        stopCode: 'ServiceSchedulerInitiated',
        stoppedReason:
          'Task failed ELB health checks in (target-group arn:aws:elasticloadbalancing:us-west-2:111122223333:targetgroup/api/73e2d6bc24d8a067)',
        exitCode: 0,
        containerReason: '',
      }),
    ],
    [
      'CannotPullContainerError',
      'fault',
      taskStoppedEvent({
        stopCode: 'TaskFailedToStart',
        stoppedReason: 'CannotPullContainerError: pull image manifest has been retried 5 time(s): not found',
        exitCode: null,
        containerReason: '',
      }),
    ],
    [
      'ResourceInitializationError',
      'fault',
      taskStoppedEvent({
        stopCode: 'TaskFailedToStart',
        stoppedReason: 'ResourceInitializationError: unable to pull secrets or registry auth',
        exitCode: null,
        containerReason: '',
      }),
    ],
    [
      'scheduler stop for a deployment',
      'benign',
      taskStoppedEvent({
        stopCode: 'ServiceSchedulerInitiated',
        stoppedReason: 'Scaling activity initiated by (deployment ecs-svc/5191542633413839583)',
        exitCode: 0,
        containerReason: '',
      }),
    ],
    [
      'user stop',
      'benign',
      taskStoppedEvent({ stopCode: 'UserInitiated', stoppedReason: 'Task stopped by user', exitCode: 0 }),
    ],
    ['spot interruption', 'benign', taskStoppedEvent({ stopCode: 'SpotInterruption', exitCode: 0 })],
    ['a task that is not stopped', 'benign', taskStoppedEvent({ lastStatus: 'RUNNING' })],
    ['failed deployment', 'fault', deploymentEvent()],
    [
      'circuit-breaker rollback in progress',
      'fault',
      deploymentEvent({
        eventName: 'SERVICE_DEPLOYMENT_IN_PROGRESS',
        eventType: 'INFO',
        reason: 'ECS deployment circuit breaker: rolling back to deploymentId ecs-svc/123.',
      }),
    ],
    [
      'deployment in progress',
      'benign',
      deploymentEvent({
        eventName: 'SERVICE_DEPLOYMENT_IN_PROGRESS',
        eventType: 'INFO',
        reason: 'ECS deployment ecs-svc/1 in progress.',
      }),
    ],
    [
      'deployment completed',
      'recovery',
      deploymentEvent({
        eventName: 'SERVICE_DEPLOYMENT_COMPLETED',
        eventType: 'INFO',
        reason: 'ECS deployment ecs-svc/1 completed.',
      }),
    ],
    ['task placement failure', 'fault', serviceActionEvent()],
    [
      'start impaired',
      'fault',
      serviceActionEvent({ eventName: 'SERVICE_TASK_START_IMPAIRED', eventType: 'WARN', reason: '' }),
    ],
    [
      'service steady state',
      'recovery',
      serviceActionEvent({ eventName: 'SERVICE_STEADY_STATE', eventType: 'INFO', reason: '' }),
    ],
    [
      'ECS throttled',
      'benign',
      serviceActionEvent({ eventName: 'ECS_OPERATION_THROTTLED', eventType: 'ERROR', reason: '' }),
    ],
    ['app fault', 'fault', appSignalEvent({ severity: 'fault' })],
    ['app recovery', 'recovery', appSignalEvent({ severity: 'recovery' })],
    ['app info', 'benign', appSignalEvent({ severity: 'info' })],
    ['chaos marker', 'benign', chaosMarkerEvent()],
  ])('%s → %s', (_name, expected, event) => {
    expect(signalOf(event).classification).toBe(expected);
  });
});

describe('toSignal', () => {
  it('keeps what diagnosis needs from a stopped task', () => {
    const signal = signalOf(taskStoppedEvent({ id: 'evt-1', cluster: 'shop', service: 'api' }));
    expect(signal).toMatchObject({
      id: 'evt-1',
      kind: 'task_stopped',
      name: 'EssentialContainerExited',
      state: 'STOPPED',
      attributes: { stopCode: 'EssentialContainerExited', exitCode: 137, container: 'app' },
    });
    expect(signal.reason).toContain('OutOfMemoryError');
  });

  it('records the chaos experiment id of a marker', () => {
    expect(signalOf(chaosMarkerEvent({ experimentId: 'exp-7' })).attributes.chaosExperimentId).toBe('exp-7');
  });

  it('truncates oversized names and reasons instead of failing', () => {
    const event = appSignalEvent({ message: 'x'.repeat(50_000) });
    const signal = signalOf(event);
    expect(signal.reason).toHaveLength(limits.reason);
    expect(signal.reason.endsWith('…')).toBe(true);
  });

  it('keeps a bounded head of an oversized raw event', () => {
    const event = { ...appSignalEvent(), padding: 'y'.repeat(200_000) };
    const raw = signalOf(event).raw as { truncated: boolean; originalLength: number; head: string };
    expect(raw.truncated).toBe(true);
    expect(raw.originalLength).toBeGreaterThan(200_000);
    expect(raw.head.length).toBeLessThanOrEqual(limits.rawBytes);
  });
});

describe('benign by a documented mechanism (AWS documentation examples as printed)', () => {
  /** The documentation's snippets lack `time` and `region`; perception's schemas require them. */
  const documented = (event: object) => withEnvelopeDefaults(event, new Date('2026-11-20T10:00:00Z')).event;

  it('reads a composite alarm in ALARM with its actions suppressed as benign, and says why', () => {
    const signal = signalOf(compositeAlarmSuppressedEvent);
    expect(signal).toMatchObject({
      kind: 'alarm',
      state: 'ALARM',
      classification: 'benign',
      attributes: {
        composite: true,
        actionsSuppressedBy: 'WaitPeriod',
        actionsSuppressedReason: 'Actions suppressed by WaitPeriod',
        benignMechanism: 'alarm_actions_suppressed',
      },
    });
  });

  it.each(['Alarm', 'WaitPeriod', 'ExtensionPeriod'])('suppressed by %s → benign', (by) => {
    const event = structuredClone(compositeAlarmSuppressedEvent);
    event.detail.state.actionsSuppressedBy = by;
    expect(signalOf(event).classification).toBe('benign');
  });

  it('keeps the same composite alarm a fault when its actions are not suppressed', () => {
    const event = structuredClone(compositeAlarmSuppressedEvent) as { detail: { state: object } };
    const {
      actionsSuppressedBy: _by,
      actionsSuppressedReason: _reason,
      ...state
    } = event.detail.state as Record<string, unknown>;
    event.detail.state = state;
    const signal = signalOf(event);
    expect(signal.classification).toBe('fault');
    expect(signal.attributes).not.toHaveProperty('benignMechanism');
  });

  it('keeps an OK with actions suppressed a recovery (a suppressed state is not a suppressed recovery)', () => {
    const event = structuredClone(compositeAlarmSuppressedEvent);
    event.detail.state.value = 'OK';
    event.detail.state.actionsSuppressedBy = 'ExtensionPeriod';
    expect(signalOf(event).classification).toBe('recovery');
  });

  it.each([
    ['SpotInterruption (the current guide)', fargateSpotInterruptionEvent],
    ['TerminationNotice (the guide before the rename)', fargateSpotTerminationNoticeEvent],
  ])('reads the Fargate Spot termination notice with stop code %s as benign', (_name, event) => {
    expect(() => parseInbound(event)).toThrow(/malformed "ECS Task State Change" event/);
    const signal = signalOf(documented(event));
    expect(signal).toMatchObject({
      kind: 'task_stopped',
      classification: 'benign',
      reason: 'Your Spot Task was interrupted.',
      attributes: { benignMechanism: 'spot_interruption' },
    });
  });

  it.each([
    [
      'stopped, stop code SpotInterruption, SIGTERM exit 143',
      taskStoppedEvent({
        stopCode: 'SpotInterruption',
        stoppedReason: 'Your Spot Task was interrupted.',
        exitCode: 143,
        containerReason: '',
      }),
    ],
    [
      'stopped, SIGKILLed after the stop timeout (137), no stop code, the Spot reason',
      taskStoppedEvent({ stopCode: '', stoppedReason: 'Your Spot Task was interrupted.', exitCode: 137 }),
    ],
    [
      'essential container exited during the interruption',
      taskStoppedEvent({
        stopCode: 'EssentialContainerExited',
        stoppedReason: 'Your Spot Task was interrupted.',
        exitCode: 143,
        containerReason: '',
      }),
    ],
  ])('a Spot interruption is benign whatever the exit: %s', (_name, event) => {
    expect(signalOf(event)).toMatchObject({
      classification: 'benign',
      attributes: { benignMechanism: 'spot_interruption' },
    });
  });

  it('still reads the same stopped task without the Spot reason as a fault', () => {
    expect(
      signalOf(
        taskStoppedEvent({ stopCode: '', stoppedReason: 'Essential container exited', exitCode: 137 }),
      ),
    ).toMatchObject({ classification: 'fault' });
  });

  it('keeps Fargate Spot capacity that cannot be acquired (placement failure) a fault', () => {
    const signal = signalOf(fargateSpotPlacementFailureEvent);
    expect(signal).toMatchObject({
      kind: 'service_action',
      classification: 'fault',
      reason: 'RESOURCE:FARGATE',
    });
    expect(signal.attributes).not.toHaveProperty('benignMechanism');
  });
});
