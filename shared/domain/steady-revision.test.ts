import { describe, expect, it } from 'vitest';
import { parseInbound } from '../events/inbound.ts';
import { serviceDeploymentCompletedEvent, serviceSteadyStateEvent } from '../testing/aws-doc-events.ts';
import { deploymentEvent, serviceActionEvent } from '../testing/ecs-events.ts';
import { toSignal } from './signal.ts';
import { provesSteady, type ServiceDeployment, steadyRevisionAt } from './steady-revision.ts';

const signalOf = (event: unknown) => {
  const parsed = parseInbound(event);
  if (parsed.status !== 'known') throw new Error('expected a known event');
  return toSignal(parsed.inbound, event);
};

const deployment = (over: Partial<ServiceDeployment> & Pick<ServiceDeployment, 'id' | 'taskDefinition'>) => ({
  status: 'PRIMARY',
  rolloutState: 'COMPLETED',
  createdAt: new Date('2019-11-19T18:00:00Z'),
  ...over,
});

describe('provesSteady', () => {
  it.each([
    ['SERVICE_STEADY_STATE (AWS example)', serviceSteadyStateEvent, true],
    ['SERVICE_DEPLOYMENT_COMPLETED (AWS example)', serviceDeploymentCompletedEvent, true],
    ['a placement failure', serviceActionEvent(), false],
    ['a failed deployment', deploymentEvent(), false],
    [
      'a deployment in progress',
      deploymentEvent({
        eventName: 'SERVICE_DEPLOYMENT_IN_PROGRESS',
        eventType: 'INFO',
        reason: 'in progress',
      }),
      false,
    ],
    [
      'a completed circuit-breaker rollback (read as a fault)',
      deploymentEvent({
        eventName: 'SERVICE_DEPLOYMENT_COMPLETED',
        eventType: 'INFO',
        reason: 'ECS deployment circuit breaker: rolling back to deploymentId ecs-svc/1.',
      }),
      false,
    ],
  ])('%s → %s', (_name, event, expected) => {
    expect(provesSteady(signalOf(event))).toBe(expected);
  });
});

describe('steadyRevisionAt', () => {
  const steady = signalOf(serviceSteadyStateEvent); // at 2019-11-19T19:27:22Z
  const completed = signalOf(serviceDeploymentCompletedEvent); // deploymentId ecs-svc/123

  it('a steady state: the one deployment ECS lists', () => {
    expect(steadyRevisionAt(steady, [deployment({ id: 'ecs-svc/1', taskDefinition: 'servicetest:4' })])).toBe(
      'servicetest:4',
    );
  });

  it('a steady state: the deployment that ran then, not one created after the event', () => {
    const later = deployment({
      id: 'ecs-svc/2',
      taskDefinition: 'servicetest:5',
      rolloutState: 'IN_PROGRESS',
      createdAt: new Date('2019-11-19T19:40:00Z'),
    });
    const earlier = deployment({ id: 'ecs-svc/1', taskDefinition: 'servicetest:4', status: 'ACTIVE' });
    expect(steadyRevisionAt(steady, [later, earlier])).toBe('servicetest:4');
    // The revision that ran then is gone from the list: nothing is guessed.
    expect(steadyRevisionAt(steady, [later])).toBeNull();
  });

  it('a steady state: nothing when two deployments existed then, or the only one failed', () => {
    const a = deployment({ id: 'ecs-svc/1', taskDefinition: 'servicetest:4', status: 'ACTIVE' });
    const b = deployment({ id: 'ecs-svc/2', taskDefinition: 'servicetest:5' });
    expect(steadyRevisionAt(steady, [b, a])).toBeNull();
    expect(steadyRevisionAt(steady, [{ ...b, rolloutState: 'FAILED' }])).toBeNull();
    expect(steadyRevisionAt(steady, [])).toBeNull();
  });

  it('a completed deployment: the deployment it names, PRIMARY or already draining', () => {
    const named = deployment({ id: 'ecs-svc/123', taskDefinition: 'servicetest:7' });
    const other = deployment({ id: 'ecs-svc/124', taskDefinition: 'servicetest:8' });
    expect(steadyRevisionAt(completed, [named])).toBe('servicetest:7');
    expect(steadyRevisionAt(completed, [other, { ...named, status: 'ACTIVE' }])).toBe('servicetest:7');
  });

  it('a completed deployment: nothing when ECS no longer lists it or it failed', () => {
    expect(
      steadyRevisionAt(completed, [deployment({ id: 'ecs-svc/124', taskDefinition: 'servicetest:8' })]),
    ).toBeNull();
    expect(
      steadyRevisionAt(completed, [
        deployment({ id: 'ecs-svc/123', taskDefinition: 'servicetest:7', rolloutState: 'FAILED' }),
      ]),
    ).toBeNull();
  });

  it('nothing for a signal that does not prove the service steady', () => {
    expect(
      steadyRevisionAt(signalOf(serviceActionEvent()), [
        deployment({ id: 'ecs-svc/1', taskDefinition: 'x:1' }),
      ]),
    ).toBeNull();
  });
});
