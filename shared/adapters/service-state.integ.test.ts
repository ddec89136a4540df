import { ECSClient, RegisterTaskDefinitionCommand, UpdateServiceCommand } from '@aws-sdk/client-ecs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createEcsService,
  emulatorClientConfig,
  startMigratedDatabase,
  type TestDatabase,
  uniqueName,
} from '../../localstack/testing.ts';
import { watched } from '../testing/fakes.ts';
import { PostgresPerceptionStore } from './perception-store.ts';
import { PostgresRemediationStore } from './remediation-store.ts';
import { ServiceStateReader, shortRevision } from './service-state.ts';

/** The service state the policy reads: the emulator's ECS, the registry and steady revisions in PGlite. */
describe('service state', () => {
  let database: TestDatabase;
  const ecs = new ECSClient(emulatorClientConfig());
  const cluster = uniqueName('state');

  beforeAll(async () => {
    database = await startMigratedDatabase();
  });
  afterAll(async () => database?.stop());

  it('combines ECS, the registry bounds and the last known-good revision', async () => {
    const registry = new PostgresPerceptionStore(database.pool);
    const remediation = new PostgresRemediationStore(database.pool);
    const reader = new ServiceStateReader(ecs, registry, (ref, running) =>
      remediation.lastKnownGood(ref, running, 30 * 60_000),
    );
    const ref = { cluster, service: 'api' };
    const first = shortRevision(await createEcsService(ecs, cluster, 'api', 3));
    expect(await reader.read(ref)).toBeNull(); // not watched yet
    await registry.registerService({ ...watched(cluster, 'api'), minTasks: 2, maxTasks: 6 });
    const next = await ecs.send(
      new RegisterTaskDefinitionCommand({
        family: 'api',
        memory: '1024',
        containerDefinitions: [{ name: 'api', image: 'api:2.0', essential: true }],
      }),
    );
    await ecs.send(
      new UpdateServiceCommand({
        cluster,
        service: 'api',
        taskDefinition: next.taskDefinition?.taskDefinitionArn,
      }),
    );
    await remediation.recordSteady(ref, first, new Date('2026-11-20T08:00:00Z'));
    await remediation.recordSteady(ref, first, new Date('2026-11-20T10:00:00Z'));

    expect(await reader.read(ref)).toEqual({
      cluster,
      service: 'api',
      desiredCount: 3,
      runningCount: 3,
      minTasks: 2,
      maxTasks: 6,
      taskDefinition: `api:${next.taskDefinition?.revision}`,
      lastKnownGood: first,
      memoryMiB: 1024,
      minimumHealthyPercent: 100,
      fallback: null,
      maintenanceTasks: [],
      secrets: [],
    });
    expect(await reader.read({ cluster, service: 'missing' })).toBeNull();
  });
});
