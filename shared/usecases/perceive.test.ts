import { describe, expect, it } from 'vitest';
import { ecsMetricAlarmEvent } from '../testing/alarm-events.ts';
import { deploymentEvent, serviceActionEvent } from '../testing/ecs-events.ts';
import {
  EmptyHistoryStore,
  FakeAlarmTags,
  FakeBus,
  FakeCounters,
  FakeEcs,
  fixedClock,
  watched,
} from '../testing/fakes.ts';
import { type PerceiveDeps, perceiveBatch } from './perceive.ts';

/** Steady revisions from ECS's own events, on fakes: which signals read deployments and what gets recorded. */
describe('perception and steady revisions', () => {
  const at = new Date('2026-11-20T10:00:00Z');
  const setup = () => {
    const store = new EmptyHistoryStore([watched('shop', 'api')]);
    const ecs = new FakeEcs(
      new Map(),
      undefined,
      new Map([
        [
          'shop/api',
          [
            {
              id: 'ecs-svc/2',
              status: 'PRIMARY',
              taskDefinition: 'api:7',
              rolloutState: 'COMPLETED',
              createdAt: new Date('2026-11-20T09:00:00Z'),
            },
          ],
        ],
        [
          'shop/web',
          [
            {
              id: 'ecs-svc/9',
              status: 'PRIMARY',
              taskDefinition: 'web:3',
              rolloutState: 'COMPLETED',
              createdAt: null,
            },
          ],
        ],
      ]),
    );
    const deps: PerceiveDeps = {
      store,
      ecs,
      alarmTags: new FakeAlarmTags(),
      bus: new FakeBus(),
      counters: new FakeCounters(),
      clock: fixedClock(at.toISOString()),
    };
    return { store, ecs, deps };
  };
  const steady = (service: string) =>
    serviceActionEvent({
      cluster: 'shop',
      service,
      time: at,
      eventName: 'SERVICE_STEADY_STATE',
      eventType: 'INFO',
      reason: '',
    });

  it('records the steady revision of a watched service at the event time', async () => {
    const { store, ecs, deps } = setup();
    const [item] = await perceiveBatch([steady('api')], deps);
    expect(item).toMatchObject({ ok: true, result: { outcome: 'suppressed', steadyRevision: 'api:7' } });
    expect(store.steady).toEqual([{ ref: { cluster: 'shop', service: 'api' }, taskDefinition: 'api:7', at }]);
    expect(ecs.deploymentCalls).toEqual([{ cluster: 'shop', service: 'api' }]);
  });

  it('reads no deployments for other signals, nor for a service it does not watch', async () => {
    const { store, ecs, deps } = setup();
    await perceiveBatch(
      [
        ecsMetricAlarmEvent({ cluster: 'shop', service: 'api', state: 'OK', time: at }),
        deploymentEvent({ cluster: 'shop', service: 'api', time: at }),
        serviceActionEvent({ cluster: 'shop', service: 'api', time: at }),
        steady('web'),
      ],
      deps,
    );
    expect(ecs.deploymentCalls).toEqual([]);
    expect(store.steady).toEqual([]);
  });
});
