import { describe, expect, it } from 'vitest';
import { parseInbound } from '../events/inbound.ts';
import { compositeAlarmEvent, ecsMetricAlarmEvent, metricMathAlarmEvent } from '../testing/alarm-events.ts';
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
