import {
  DescribeServicesCommand,
  type ECSClient,
  RunTaskCommand,
  StopTaskCommand,
  UpdateServiceCommand,
} from '@aws-sdk/client-ecs';
import { RotateSecretCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { SSMClient } from '@aws-sdk/client-ssm';
import { ServiceGoneError } from '../domain/errors.ts';
import type { Operation, PreState } from '../domain/remediation.ts';
import type { ServiceRef } from '../domain/signal.ts';
import { readParameter, writeParameter } from './parameters.ts';
import { registerVariant } from './task-definitions.ts';

export { ServiceGoneError };

/** Every change Homeostat makes is tagged with who made it, for people reading ECS. */
const startedBy = 'homeostat';

/**
 * Carries out remediation operations on ECS (and the SSM parameters and
 * secrets some actions touch), and takes the pre-state snapshot before them.
 * Throttling is retried by the SDK (adaptive retry, five attempts).
 */
export class EcsRemediator {
  constructor(
    private readonly ecs: ECSClient,
    private readonly ssm: SSMClient,
    private readonly secrets: SecretsManagerClient,
  ) {}

  async snapshot(ref: ServiceRef, parameterNames: readonly string[]): Promise<PreState> {
    const service = await this.describe(ref);
    const parameters: Record<string, string | null> = {};
    for (const name of parameterNames) parameters[name] = await readParameter(this.ssm, name);
    return {
      cluster: ref.cluster,
      service: ref.service,
      desiredCount: service.desiredCount ?? 0,
      taskDefinition: service.taskDefinition ?? '',
      deploymentConfiguration: service.deploymentConfiguration
        ? {
            minimumHealthyPercent: service.deploymentConfiguration.minimumHealthyPercent ?? null,
            maximumPercent: service.deploymentConfiguration.maximumPercent ?? null,
          }
        : null,
      parameters,
    };
  }

  /** Applies the operations in order; returns what each one did, for the audit log. */
  async apply(ref: ServiceRef, operations: readonly Operation[]): Promise<string[]> {
    const done: string[] = [];
    for (const operation of operations) done.push(await this.applyOne(ref, operation));
    return done;
  }

  private async applyOne(ref: ServiceRef, o: Operation): Promise<string> {
    const { cluster, service } = ref;
    switch (o.op) {
      case 'set_desired_count':
        await this.describe(ref);
        await this.ecs.send(new UpdateServiceCommand({ cluster, service, desiredCount: o.desiredCount }));
        return `desired count set to ${o.desiredCount}`;
      case 'deploy':
        await this.describe(ref);
        await this.ecs.send(
          new UpdateServiceCommand({
            cluster,
            service,
            forceNewDeployment: true,
            ...(o.taskDefinition ? { taskDefinition: o.taskDefinition } : {}),
          }),
        );
        return o.taskDefinition ? `deployed ${o.taskDefinition}` : 'forced a new deployment';
      case 'deploy_with_memory': {
        const running = (await this.describe(ref)).taskDefinition ?? '';
        // The essential container's own hard limit must grow with the task, or it is still killed.
        const arn = await registerVariant(
          this.ecs,
          running,
          (c) => (c.memory !== undefined ? { ...c, memory: o.memoryMiB } : c),
          { memory: String(o.memoryMiB) },
        );
        await this.ecs.send(
          new UpdateServiceCommand({ cluster, service, taskDefinition: arn, forceNewDeployment: true }),
        );
        return `registered ${arn} with ${o.memoryMiB} MiB and deployed it`;
      }
      case 'stop_task':
        await this.ecs.send(
          new StopTaskCommand({ cluster, task: o.taskArn, reason: `${startedBy}: stop_task remediation` }),
        );
        return `stopped ${o.taskArn}`;
      case 'run_task': {
        const current = await this.describe(ref);
        const out = await this.ecs.send(
          new RunTaskCommand({
            cluster,
            taskDefinition: o.taskDefinition,
            startedBy,
            launchType: current.launchType,
            networkConfiguration: current.networkConfiguration,
          }),
        );
        return `started ${out.tasks?.[0]?.taskArn ?? o.taskDefinition}`;
      }
      case 'put_parameter':
        await writeParameter(this.ssm, o.name, o.value);
        return o.value === null ? `deleted parameter ${o.name}` : `set parameter ${o.name}`;
      case 'rotate_secret':
        await this.secrets.send(new RotateSecretCommand({ SecretId: o.secretId }));
        return `rotated ${o.secretId}`;
    }
  }

  private async describe(ref: ServiceRef) {
    const out = await this.ecs.send(
      new DescribeServicesCommand({ cluster: ref.cluster, services: [ref.service] }),
    );
    const service = out.services?.[0];
    if (!service || service.status === 'INACTIVE' || service.status === 'DRAINING')
      throw new ServiceGoneError(`${ref.cluster}/${ref.service} no longer exists`);
    return service;
  }
}
