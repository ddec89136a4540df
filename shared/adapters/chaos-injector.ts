import {
  DeregisterTaskDefinitionCommand,
  DescribeServicesCommand,
  type ECSClient,
  ListTasksCommand,
  StopTaskCommand,
  UpdateServiceCommand,
} from '@aws-sdk/client-ecs';
import type { SSMClient } from '@aws-sdk/client-ssm';
import { chaosOptInTag, type Injection, type TargetFacts } from '../domain/chaos.ts';
import { ConfigurationError, ServiceGoneError } from '../domain/errors.ts';
import type { ServiceRef } from '../domain/signal.ts';
import type { ChaosPreState, InjectionResult, RevertResult } from '../usecases/chaos-ports.ts';
import type { FisClient } from './fis.ts';
import { readParameter, writeParameter } from './parameters.ts';
import { registerVariant } from './task-definitions.ts';

/** Marks what chaos changed, for people reading ECS. */
const reasonOf = (experimentId: string) => `homeostat chaos experiment ${experimentId}`;

/** The tag on what chaos creates (broken revisions, FIS experiments): the experiment's id. */
const chaosExperimentTag = 'homeostat:chaos-experiment';

/**
 * Injects chaos faults into ECS services (and the SSM parameters and FIS
 * experiments some need) and reverts them. Every injection records what it
 * is about to change before each change (`record`), so one that fails
 * halfway is undone from that record; every revert first checks whether the
 * fault is still there, and leaves alone what someone (Homeostat included)
 * has changed since.
 */
export class EcsChaosInjector {
  constructor(
    private readonly ecs: ECSClient,
    private readonly ssm: SSMClient,
    /** FIS, and the experiment template per chaos experiment name (created by the stack). */
    private readonly fis: { client: FisClient; templates: Record<string, string> } | null = null,
  ) {}

  /** The target as the guardrails see it; null when ECS does not know it. */
  async target(ref: ServiceRef): Promise<TargetFacts['service']> {
    const service = await this.describeOrNull(ref);
    if (!service) return null;
    const optedIn = (service.tags ?? []).some(
      (t) => t.key === chaosOptInTag.key && t.value === chaosOptInTag.value,
    );
    return {
      optedIn,
      desiredCount: service.desiredCount ?? 0,
      runningCount: (await this.runningTasks(ref)).length,
      minimumHealthyPercent: service.deploymentConfiguration?.minimumHealthyPercent ?? null,
    };
  }

  async inject(
    experimentId: string,
    experiment: string,
    ref: ServiceRef,
    injection: Injection,
    record: (pre: ChaosPreState) => Promise<void> = async () => {},
  ): Promise<InjectionResult> {
    const service = await this.describe(ref);
    const preState: ChaosPreState = {
      desiredCount: service.desiredCount ?? 0,
      taskDefinition: service.taskDefinition ?? '',
    };
    const { cluster } = ref;
    switch (injection.kind) {
      case 'stop_tasks': {
        const tasks = (await this.runningTasks(ref)).slice(0, injection.count);
        const stopped: string[] = [];
        for (const task of tasks) {
          stopped.push(task);
          await record({ ...preState, stoppedTasks: [...stopped] });
          await this.ecs.send(new StopTaskCommand({ cluster, task, reason: reasonOf(experimentId) }));
        }
        return {
          preState: { ...preState, stoppedTasks: tasks },
          operations: [`stopped ${tasks.length} task(s): ${tasks.map(shortId).join(', ')}`],
        };
      }
      case 'scale_to':
        await record(preState);
        await this.ecs.send(
          new UpdateServiceCommand({ cluster, service: ref.service, desiredCount: injection.desiredCount }),
        );
        return {
          preState,
          operations: [`desired count ${preState.desiredCount} → ${injection.desiredCount}`],
        };
      case 'bad_deployment': {
        const broken = await registerVariant(
          this.ecs,
          preState.taskDefinition,
          (c) => breakContainer(c, injection),
          {
            tags: [{ key: chaosExperimentTag, value: experimentId }],
          },
        );
        await record({ ...preState, chaosTaskDefinition: broken });
        await this.ecs.send(
          new UpdateServiceCommand({
            cluster,
            service: ref.service,
            taskDefinition: broken,
            forceNewDeployment: true,
          }),
        );
        return {
          preState: { ...preState, chaosTaskDefinition: broken },
          operations: [`registered ${broken} (broken ${injection.fault}) and deployed it`],
        };
      }
      case 'break_dependency': {
        const before = await readParameter(this.ssm, injection.parameterName);
        await record({ ...preState, parameterValue: before });
        await writeParameter(this.ssm, injection.parameterName, injection.badValue);
        return {
          preState: { ...preState, parameterValue: before },
          operations: [`pointed ${injection.parameterName} at ${injection.badValue}`],
        };
      }
      case 'fis': {
        const fis = this.fisFor(experiment);
        const id = await fis.client.start(fis.template, experimentId, {
          [chaosExperimentTag]: experimentId,
        });
        // Recorded once started: an experiment that did not start changed nothing.
        await record({ ...preState, fisExperimentId: id });
        return {
          preState: { ...preState, fisExperimentId: id },
          operations: [
            `started FIS experiment ${id} (${injection.action}, ${injection.percentage}% of the tasks)`,
          ],
        };
      }
    }
  }

  async revert(ref: ServiceRef, injection: Injection, pre: ChaosPreState): Promise<RevertResult> {
    const { cluster, service } = ref;
    switch (injection.kind) {
      case 'stop_tasks': {
        const current = await this.describe(ref);
        const running = (await this.runningTasks(ref)).length;
        const desired = current.desiredCount ?? 0;
        if (running >= desired)
          return { needed: false, operations: [`${running} of ${desired} tasks running`] };
        await this.ecs.send(new UpdateServiceCommand({ cluster, service, forceNewDeployment: true }));
        return {
          needed: true,
          operations: [`${running} of ${desired} tasks running: forced a new deployment`],
        };
      }
      case 'scale_to': {
        const desired = (await this.describe(ref)).desiredCount ?? 0;
        if (desired !== injection.desiredCount)
          return {
            needed: false,
            operations: [
              `desired count is ${desired}, no longer the injected ${injection.desiredCount}: left as is`,
            ],
          };
        await this.ecs.send(new UpdateServiceCommand({ cluster, service, desiredCount: injection.from }));
        return { needed: true, operations: [`desired count ${desired} → ${injection.from}`] };
      }
      case 'bad_deployment': {
        const broken = pre.chaosTaskDefinition ?? '';
        const running = (await this.describe(ref)).taskDefinition ?? '';
        const operations: string[] = [];
        const needed = running === broken;
        if (needed) {
          await this.ecs.send(
            new UpdateServiceCommand({
              cluster,
              service,
              taskDefinition: pre.taskDefinition,
              forceNewDeployment: true,
            }),
          );
          operations.push(`deployed ${pre.taskDefinition} again`);
        } else operations.push(`already running ${running}`);
        // The broken revision must never be deployed again (by a rollback or a person).
        if (broken) {
          await this.ecs.send(new DeregisterTaskDefinitionCommand({ taskDefinition: broken }));
          operations.push(`deregistered ${broken}`);
        }
        return { needed, operations };
      }
      case 'break_dependency': {
        const now = await readParameter(this.ssm, injection.parameterName);
        if (now !== injection.badValue)
          return {
            needed: false,
            operations: [`${injection.parameterName} no longer holds the bad endpoint`],
          };
        const before = pre.parameterValue ?? null;
        await writeParameter(this.ssm, injection.parameterName, before);
        return {
          needed: true,
          operations: [
            before === null
              ? `deleted ${injection.parameterName} (it did not exist before)`
              : `restored ${injection.parameterName}`,
          ],
        };
      }
      case 'fis': {
        if (!this.fis || !pre.fisExperimentId) throw new ConfigurationError('FIS is not configured');
        const stopped = await this.fis.client.stopIfRunning(pre.fisExperimentId);
        return {
          needed: stopped,
          operations: [
            stopped ? `stopped FIS experiment ${pre.fisExperimentId}` : 'the FIS experiment had ended',
          ],
        };
      }
    }
  }

  /** Stops a FIS experiment chaos started if it still acts (the kill switch); whether it had to. */
  async stopFis(fisExperimentId: string): Promise<boolean> {
    if (!this.fis) throw new ConfigurationError('FIS is not configured');
    return this.fis.client.stopIfRunning(fisExperimentId);
  }

  private fisFor(experiment: string) {
    const template = this.fis?.templates[experiment];
    if (!this.fis || !template)
      throw new ConfigurationError(
        `no FIS experiment template is configured for the chaos experiment ${experiment}`,
      );
    return { client: this.fis.client, template };
  }

  private async runningTasks(ref: ServiceRef): Promise<string[]> {
    const arns: string[] = [];
    let nextToken: string | undefined;
    do {
      const out = await this.ecs.send(
        new ListTasksCommand({
          cluster: ref.cluster,
          serviceName: ref.service,
          desiredStatus: 'RUNNING',
          nextToken,
        }),
      );
      arns.push(...(out.taskArns ?? []));
      nextToken = out.nextToken;
    } while (nextToken);
    return arns;
  }

  private async describeOrNull(ref: ServiceRef) {
    const out = await this.ecs.send(
      new DescribeServicesCommand({ cluster: ref.cluster, services: [ref.service], include: ['TAGS'] }),
    );
    const service = out.services?.[0];
    return service && service.status === 'ACTIVE' ? service : null;
  }

  private async describe(ref: ServiceRef) {
    const service = await this.describeOrNull(ref);
    if (!service) throw new ServiceGoneError(`${ref.cluster}/${ref.service} no longer exists`);
    return service;
  }
}

const shortId = (arn: string) => arn.split('/').pop() ?? arn;

type ContainerDefinition = Parameters<Parameters<typeof registerVariant>[2]>[0];

/** The essential container, broken the configured way. */
function breakContainer(c: ContainerDefinition, injection: Extract<Injection, { kind: 'bad_deployment' }>) {
  switch (injection.fault) {
    case 'image':
      // A tag no registry has: the tasks cannot start (CannotPullContainerError).
      return { ...c, image: `${(c.image ?? 'image').replace(/:[^:/]*$/, '')}:homeostat-chaos-missing` };
    case 'environment':
      return {
        ...c,
        environment: [
          ...(c.environment ?? []).filter((e) => e.name !== injection.variable),
          { name: injection.variable, value: injection.value },
        ],
      };
    case 'command':
      return { ...c, command: ['sh', '-c', 'echo "homeostat chaos: broken command" >&2; exit 1'] };
  }
}
