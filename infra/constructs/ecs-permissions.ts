import { Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { IConstruct } from 'constructs';

/**
 * ARNs and statements that scope ECS permissions to what the stack declares
 * (watched services, their maintenance tasks and roles, chaos targets).
 * Condition keys as the Service Authorization Reference defines them:
 * `ecs:cluster` (RunTask, StopTask), `iam:PassedToService` (PassRole).
 */

export const clusterArn = (scope: IConstruct, cluster: string) =>
  Stack.of(scope).formatArn({ service: 'ecs', resource: 'cluster', resourceName: cluster });

/** Every task of a cluster (the `task/cluster/id` ARN format). */
export const tasksOfCluster = (scope: IConstruct, cluster: string) =>
  Stack.of(scope).formatArn({ service: 'ecs', resource: 'task', resourceName: `${cluster}/*` });

/** Every revision of every task-definition family of this account and region. */
export const anyTaskDefinition = (scope: IConstruct) =>
  Stack.of(scope).formatArn({ service: 'ecs', resource: 'task-definition', resourceName: '*' });

/**
 * What RunTask is authorized on for a declared maintenance task: a task
 * definition ARN as it is; `family:revision` that revision; a bare `family`
 * (ECS runs its latest ACTIVE revision) the family's ARN and its revisions.
 */
export function taskDefinitionArns(scope: IConstruct, declared: string): string[] {
  if (declared.startsWith('arn:')) return [declared];
  const arn = (name: string) =>
    Stack.of(scope).formatArn({ service: 'ecs', resource: 'task-definition', resourceName: name });
  return declared.includes(':') ? [arn(declared)] : [arn(declared), arn(`${declared}:*`)];
}

/** A declared role: its ARN, or its name (with any path) in this account. */
export const roleArn = (scope: IConstruct, declared: string) =>
  declared.startsWith('arn:')
    ? declared
    : Stack.of(scope).formatArn({ service: 'iam', region: '', resource: 'role', resourceName: declared });

/** iam:PassRole on exactly these roles, to ECS tasks only; none declared, no statement. */
export function passRolesToEcsTasks(
  scope: IConstruct,
  roles: readonly string[],
): iam.PolicyStatement | undefined {
  const arns = [...new Set(roles.map((r) => roleArn(scope, r)))];
  if (arns.length === 0) return undefined;
  return new iam.PolicyStatement({
    sid: 'PassDeclaredTaskRolesToEcs',
    actions: ['iam:PassRole'],
    resources: arns,
    conditions: { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } },
  });
}
