import {
  DescribeServicesCommand,
  ECSClient,
  RegisterTaskDefinitionCommand,
  UpdateServiceCommand,
} from '@aws-sdk/client-ecs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createEcsService,
  emulatorClientConfig,
  startMigratedDatabase,
  type TestDatabase,
  uniqueName,
} from '../../localstack/testing.ts';
import { EcsServiceReaderAdapter } from '../adapters/ecs.ts';
import { PostgresPerceptionStore } from '../adapters/perception-store.ts';
import { PostgresRemediationStore } from '../adapters/remediation-store.ts';
import { shortRevision } from '../adapters/service-state.ts';
import { systemClock } from '../domain/ports.ts';
import { deploymentEvent, serviceActionEvent } from '../testing/ecs-events.ts';
import { FakeAlarmTags, FakeBus, FakeCounters, watched } from '../testing/fakes.ts';
import { type PerceiveDeps, perceive } from './perceive.ts';

/**
 * Last known good from the real world: ECS's SERVICE_STEADY_STATE and
 * SERVICE_DEPLOYMENT_COMPLETED events, perceived against the emulator's ECS (which
 * names the running task definition through DescribeServices) and PGlite through the
 * Neon driver, give a fresh install a rollback target without any verification run.
 */
describe('perception records steady revisions', () => {
  const ecs = new ECSClient(emulatorClientConfig());
  const cluster = uniqueName('steady');
  let database: TestDatabase;
  let store: PostgresPerceptionStore;
  let remediation: PostgresRemediationStore;
  let counters: FakeCounters;

  beforeAll(async () => {
    database = await startMigratedDatabase();
    store = new PostgresPerceptionStore(database.pool);
    remediation = new PostgresRemediationStore(database.pool);
  });
  afterAll(async () => database?.stop());

  const deps = (): PerceiveDeps => {
    counters = new FakeCounters();
    return {
      store,
      ecs: new EcsServiceReaderAdapter(ecs),
      alarmTags: new FakeAlarmTags(),
      bus: new FakeBus(),
      counters,
      clock: systemClock,
    };
  };
  /** A service of its own task-definition family, so revisions are predictable. */
  const newService = async (watch = true) => {
    const service = uniqueName('api');
    const first = shortRevision(await createEcsService(ecs, cluster, service, 2));
    if (watch) await store.registerService(watched(cluster, service));
    return { ref: { cluster, service }, first };
  };
  const deployNext = async (service: string) => {
    const td = await ecs.send(
      new RegisterTaskDefinitionCommand({
        family: service,
        containerDefinitions: [{ name: service, image: `${service}:2.0`, essential: true, memory: 512 }],
      }),
    );
    await ecs.send(
      new UpdateServiceCommand({ cluster, service, taskDefinition: td.taskDefinition?.taskDefinitionArn }),
    );
    return shortRevision(td.taskDefinition?.taskDefinitionArn ?? '');
  };
  const steadyRows = async (service: string) =>
    (
      await database.pool.query(
        `SELECT task_definition, first_steady_at, last_steady_at FROM steady_revisions
          WHERE cluster = $1 AND service = $2 ORDER BY task_definition`,
        [cluster, service],
      )
    ).rows.map((r) => ({
      taskDefinition: r.task_definition,
      first: new Date(r.first_steady_at).toISOString(),
      last: new Date(r.last_steady_at).toISOString(),
    }));
  /** Event times are whole seconds (as EventBridge writes them), after the emulator created the deployments. */
  const soon = () => new Date(Math.ceil(Date.now() / 1000) * 1000 + 1000);
  const steadyEvent = (service: string, time: Date, id?: string) =>
    serviceActionEvent({
      cluster,
      service,
      time,
      eventName: 'SERVICE_STEADY_STATE',
      eventType: 'INFO',
      reason: '',
      ...(id ? { id } : {}),
    });

  it('records the revision a SERVICE_STEADY_STATE found running, once per redelivery, and a fresh install can roll back to it', async () => {
    const { ref, first } = await newService();
    const t1 = soon();
    const t2 = new Date(t1.getTime() + 31 * 60_000);

    const steady = steadyEvent(ref.service, t1);
    const result = await perceive(steady, deps());
    expect(result).toMatchObject({ outcome: 'suppressed', steadyRevision: first });
    expect(counters.counts.get('SteadyRevisionsRecorded')).toBe(1);
    expect(await perceive(steady, deps())).toMatchObject({ outcome: 'redelivery', steadyRevision: first });
    expect(await steadyRows(ref.service)).toEqual([
      { taskDefinition: first, first: t1.toISOString(), last: t1.toISOString() },
    ]);
    // Seen steady once: not yet a rollback target under a 30-minute minimum.
    expect(await remediation.lastKnownGood(ref, null, 30 * 60_000)).toBeNull();

    // ECS reports the steady state periodically: the period grows.
    await perceive(steadyEvent(ref.service, t2), deps());
    expect(await steadyRows(ref.service)).toEqual([
      { taskDefinition: first, first: t1.toISOString(), last: t2.toISOString() },
    ]);

    const next = await deployNext(ref.service);
    expect(next).not.toBe(first);
    expect(await remediation.lastKnownGood(ref, next, 30 * 60_000)).toBe(first);
  });

  it('records the revision of the deployment a SERVICE_DEPLOYMENT_COMPLETED names, and nothing for one ECS does not list', async () => {
    const { ref } = await newService();
    const next = await deployNext(ref.service);
    const described = await ecs.send(new DescribeServicesCommand({ cluster, services: [ref.service] }));
    const primary = described.services?.[0]?.deployments?.find((d) => d.status === 'PRIMARY');
    expect(primary?.id).toBeTruthy();
    const at = soon();

    const completed = (deploymentId: string) =>
      deploymentEvent({
        cluster,
        service: ref.service,
        time: at,
        eventName: 'SERVICE_DEPLOYMENT_COMPLETED',
        eventType: 'INFO',
        reason: `ECS deployment ${deploymentId} completed.`,
        deploymentId,
      });
    expect(await perceive(completed('ecs-svc/0000000000000000000'), deps())).not.toHaveProperty(
      'steadyRevision',
    );
    expect(await steadyRows(ref.service)).toEqual([]);

    expect(await perceive(completed(primary?.id ?? ''), deps())).toMatchObject({ steadyRevision: next });
    expect(await steadyRows(ref.service)).toEqual([
      { taskDefinition: next, first: at.toISOString(), last: at.toISOString() },
    ]);
  });

  it('records nothing for a service Homeostat does not watch', async () => {
    const { ref } = await newService(false);
    const result = await perceive(steadyEvent(ref.service, soon()), deps());
    expect(result).toMatchObject({ outcome: 'ignored', reason: 'not_watched' });
    expect(await steadyRows(ref.service)).toEqual([]);
  });
});
