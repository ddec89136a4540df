import { ECSClient, RegisterTaskDefinitionCommand, UpdateServiceCommand } from '@aws-sdk/client-ecs';
import { beforeAll, describe, expect, it } from 'vitest';
import { createEcsService, emulatorClientConfig, uniqueName } from '../../localstack/testing.ts';
import { investigate } from '../domain/evidence.ts';
import { EcsEvidenceTool } from './ecs-evidence.ts';

/** The ECS evidence tool against the emulator's ECS. */
describe('ECS evidence', () => {
  const ecs = new ECSClient(emulatorClientConfig());
  const cluster = uniqueName('evidence');
  const brief = (service: string) => ({
    incidentId: 'inc-1',
    cluster,
    service,
    title: 'api-memory-high',
    fingerprint: 'fp',
    openedAt: new Date(Date.now() + 5 * 60_000).toISOString(),
  });

  // `family:revision` of the deployed second revision (other tests register the family too).
  let deployed = '';

  beforeAll(async () => {
    await createEcsService(ecs, cluster, 'api', 3);
    // A second revision with less memory, a new image and a new variable, deployed.
    const next = await ecs.send(
      new RegisterTaskDefinitionCommand({
        family: 'api',
        requiresCompatibilities: ['FARGATE'],
        networkMode: 'awsvpc',
        cpu: '256',
        memory: '256',
        containerDefinitions: [
          {
            name: 'api',
            image: 'api:1.1',
            essential: true,
            memory: 256,
            environment: [{ name: 'PAYMENTS_URL', value: 'https://pay' }],
          },
        ],
      }),
    );
    await ecs.send(
      new UpdateServiceCommand({
        cluster,
        service: 'api',
        taskDefinition: next.taskDefinition?.taskDefinitionArn,
      }),
    );
    deployed = `api:${next.taskDefinition?.revision}`;
  });

  it('describes the service, its deployments timed against the incident and the revision diff', async () => {
    const inv = await investigate(brief('api'), [new EcsEvidenceTool(ecs)]);
    expect(inv.gaps).toEqual([]);
    const byKind = new Map(inv.evidence.map((e) => [e.kind, e]));
    expect(byKind.get('service')?.facts).toMatchObject({ desiredCount: 3, status: 'ACTIVE' });
    const deployments = byKind.get('deployments')?.facts as {
      deployments: { taskDefinition: string; minutesBeforeIncident: number; initial: boolean }[];
    };
    expect(deployments.deployments.find((d) => d.taskDefinition === deployed)).toMatchObject({
      minutesBeforeIncident: 5,
      initial: false,
    });
    // The deployment that created the service is told apart (the oldest, at the service's creation).
    expect(deployments.deployments.at(-1)).toMatchObject({ initial: true });
    expect(byKind.get('task_definition_diff')?.facts).toMatchObject({
      image: { from: 'api:1.0', to: 'api:1.1' },
      memory: { from: 512, to: 256 },
      environment: { added: ['PAYMENTS_URL'], removed: [], changed: [] },
    });
    expect(byKind.get('task_definition_diff')?.summary).toMatch(/memory 512 → 256/);
  });

  it('records a vanished service as a gap, not a failure', async () => {
    const inv = await investigate(brief('gone'), [new EcsEvidenceTool(ecs)]);
    expect(inv.evidence).toEqual([]);
    expect(inv.gaps).toEqual([{ tool: 'ecs', reason: `ECS does not know ${cluster}/gone (deleted?)` }]);
  });
});
