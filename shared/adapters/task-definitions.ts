import {
  type ContainerDefinition,
  DescribeTaskDefinitionCommand,
  type ECSClient,
  RegisterTaskDefinitionCommand,
  type Tag,
} from '@aws-sdk/client-ecs';
import { HomeostatError } from '../domain/errors.ts';

/**
 * Registers a new revision of a task definition's family: the same settings,
 * with `change` applied to every essential container (and the task-level
 * memory, when given). Returns the new revision's ARN.
 */
export async function registerVariant(
  ecs: ECSClient,
  taskDefinition: string,
  change: (container: ContainerDefinition) => ContainerDefinition,
  options: { memory?: string; tags?: Tag[] } = {},
): Promise<string> {
  const td = (await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition }))).taskDefinition;
  if (!td?.family) throw new HomeostatError(`task definition ${taskDefinition} cannot be read`);
  const registered = await ecs.send(
    new RegisterTaskDefinitionCommand({
      family: td.family,
      taskRoleArn: td.taskRoleArn,
      executionRoleArn: td.executionRoleArn,
      networkMode: td.networkMode,
      containerDefinitions: (td.containerDefinitions ?? []).map((c) =>
        c.essential !== false ? change(c) : c,
      ),
      volumes: td.volumes,
      placementConstraints: td.placementConstraints,
      requiresCompatibilities: td.requiresCompatibilities,
      cpu: td.cpu,
      memory: options.memory ?? td.memory,
      runtimePlatform: td.runtimePlatform,
      ephemeralStorage: td.ephemeralStorage,
      ...(options.tags?.length ? { tags: options.tags } : {}),
    }),
  );
  const arn = registered.taskDefinition?.taskDefinitionArn;
  if (!arn) throw new HomeostatError(`registering a new revision of ${td.family} returned no ARN`);
  return arn;
}
