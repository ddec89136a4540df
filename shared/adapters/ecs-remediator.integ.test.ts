import {
  DeleteServiceCommand,
  DescribeServicesCommand,
  DescribeTaskDefinitionCommand,
  ECSClient,
  ListTasksCommand,
  RegisterTaskDefinitionCommand,
  UpdateServiceCommand,
} from '@aws-sdk/client-ecs';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { GetParameterCommand, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { beforeAll, describe, expect, it } from 'vitest';
import { createEcsService, emulatorClientConfig, uniqueName } from '../../localstack/testing.ts';
import { operationsFor, undoOperations } from '../domain/remediation.ts';
import { EcsRemediator, ServiceGoneError } from './ecs-remediator.ts';

/** Every action and its undo against the emulator's ECS and SSM. */
describe('ECS remediation', () => {
  const config = emulatorClientConfig();
  const ecs = new ECSClient(config);
  const ssm = new SSMClient(config);
  const remediator = new EcsRemediator(ecs, ssm, new SecretsManagerClient(config));
  const cluster = uniqueName('remedy');
  const service = async (name: string, desired = 3) => {
    const arn = await createEcsService(ecs, cluster, name, desired);
    return { ref: { cluster, service: name }, arn };
  };
  const current = async (name: string) =>
    (await ecs.send(new DescribeServicesCommand({ cluster, services: [name] }))).services?.[0];

  beforeAll(async () => {
    await service('warmup', 1);
  });

  it('scales out and undoes back to the snapshot', async () => {
    const { ref } = await service('scale');
    const before = await remediator.snapshot(ref, []);
    expect(before).toMatchObject({
      desiredCount: 3,
      taskDefinition: expect.stringContaining('task-definition/scale:'),
    });
    expect(await remediator.apply(ref, operationsFor('scale_out', { desiredCount: 5 }))).toEqual([
      'desired count set to 5',
    ]);
    expect((await current('scale'))?.desiredCount).toBe(5);
    await remediator.apply(ref, undoOperations('scale_out', { desiredCount: 5 }, before));
    expect((await current('scale'))?.desiredCount).toBe(3);
  });

  it('rolls back to a revision and undoes to the snapshot revision', async () => {
    const { ref, arn: first } = await service('roll');
    const second = await ecs.send(
      new RegisterTaskDefinitionCommand({
        family: 'roll',
        containerDefinitions: [{ name: 'roll', image: 'roll:2.0', essential: true, memory: 512 }],
      }),
    );
    await ecs.send(
      new UpdateServiceCommand({
        cluster,
        service: 'roll',
        taskDefinition: second.taskDefinition?.taskDefinitionArn,
      }),
    );
    const before = await remediator.snapshot(ref, []);
    await remediator.apply(ref, operationsFor('rollback_task_definition', { taskDefinition: first }));
    expect((await current('roll'))?.taskDefinition).toBe(first);
    await remediator.apply(
      ref,
      undoOperations('rollback_task_definition', { taskDefinition: first }, before),
    );
    expect((await current('roll'))?.taskDefinition).toBe(second.taskDefinition?.taskDefinitionArn);
  });

  it('deploys a copy of the running revision with more memory, the container limit raised too', async () => {
    const { ref, arn } = await service('memory');
    const before = await remediator.snapshot(ref, []);
    const [done] = await remediator.apply(ref, operationsFor('increase_memory', { memoryMiB: 768 }));
    expect(done).toMatch(/with 768 MiB and deployed it$/);
    const running = (await current('memory'))?.taskDefinition;
    expect(running).not.toBe(arn);
    const td = (await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: running })))
      .taskDefinition;
    expect(td?.memory).toBe('768');
    expect(td?.containerDefinitions?.[0]).toMatchObject({ image: 'memory:1.0', memory: 768 });
    await remediator.apply(ref, undoOperations('increase_memory', { memoryMiB: 768 }, before));
    expect((await current('memory'))?.taskDefinition).toBe(arn);
  });

  it('restarts with a new deployment of the same revision', async () => {
    const { ref, arn } = await service('restart');
    const deploymentsBefore = (await current('restart'))?.deployments?.length ?? 0;
    await remediator.apply(ref, operationsFor('restart_service', {}));
    const after = await current('restart');
    expect(after?.taskDefinition).toBe(arn);
    expect(after?.deployments?.length ?? 0).toBeGreaterThanOrEqual(deploymentsBefore);
  });

  it('stops one task', async () => {
    const { ref } = await service('stop');
    const [taskArn] = (await ecs.send(new ListTasksCommand({ cluster, serviceName: 'stop' }))).taskArns ?? [];
    expect(taskArn).toBeDefined();
    expect(await remediator.apply(ref, operationsFor('stop_task', { taskArn: taskArn as string }))).toEqual([
      `stopped ${taskArn}`,
    ]);
  });

  it('flips the fallback parameter and restores it from the snapshot, including a parameter that did not exist', async () => {
    const { ref } = await service('fallback');
    const name = `/${cluster}/fallback/mode`;
    await ssm.send(new PutParameterCommand({ Name: name, Value: 'primary', Type: 'String' }));
    const parameters = { parameterName: name, value: 'fallback' };
    const before = await remediator.snapshot(ref, [name]);
    expect(before.parameters).toEqual({ [name]: 'primary' });
    await remediator.apply(ref, operationsFor('switch_to_fallback', parameters));
    expect((await ssm.send(new GetParameterCommand({ Name: name }))).Parameter?.Value).toBe('fallback');
    await remediator.apply(ref, undoOperations('switch_to_fallback', parameters, before));
    expect((await ssm.send(new GetParameterCommand({ Name: name }))).Parameter?.Value).toBe('primary');

    const fresh = `/${cluster}/fallback/new`;
    const snapshot = await remediator.snapshot(ref, [fresh]);
    expect(snapshot.parameters).toEqual({ [fresh]: null });
    const flip = { parameterName: fresh, value: 'on' };
    await remediator.apply(ref, operationsFor('switch_to_fallback', flip));
    await remediator.apply(ref, undoOperations('switch_to_fallback', flip, snapshot));
    await expect(ssm.send(new GetParameterCommand({ Name: fresh }))).rejects.toThrow(
      /ParameterNotFound|not found/i,
    );
  });

  it('reports a service deleted mid-remediation as gone, acting on nothing', async () => {
    const { ref } = await service('doomed', 1);
    await ecs.send(new UpdateServiceCommand({ cluster, service: 'doomed', desiredCount: 0 }));
    await ecs.send(new DeleteServiceCommand({ cluster, service: 'doomed' }));
    await expect(remediator.snapshot(ref, [])).rejects.toThrow(ServiceGoneError);
    await expect(remediator.apply(ref, operationsFor('scale_out', { desiredCount: 2 }))).rejects.toThrow(
      ServiceGoneError,
    );
  });
});
