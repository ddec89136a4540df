/**
 * The action catalog: everything Homeostat may ever do to a service, with
 * what each action needs, risks, touches and how it is undone. Nothing
 * outside this catalog can be planned, approved or executed. Pure.
 */
import type { CatalogAction } from './taxonomy.ts';

export type Risk = 'none' | 'low' | 'medium' | 'high';

/** What the policy and the planner know about the service when deciding. */
export interface ServiceState {
  cluster: string;
  service: string;
  desiredCount: number;
  runningCount: number;
  /** Registered bounds (watched-service registry). */
  minTasks: number;
  maxTasks: number;
  /** `family:revision` running now. */
  taskDefinition: string | null;
  /** The last revision that stayed steady long enough, if one is known. */
  lastKnownGood: string | null;
  /** Memory of the running revision, MiB. */
  memoryMiB: number | null;
  /** Deployment configuration: how many tasks a redeploy keeps in service. */
  minimumHealthyPercent: number;
  /** Configured fallback switch (an SSM parameter) and its fallback value, if any. */
  fallback: { parameterName: string; value: string } | null;
  /** Registered one-off maintenance task definitions (run_task). */
  maintenanceTasks: string[];
  /** Secrets the service reads that Homeostat may rotate. */
  secrets: string[];
}

export type ActionParameters = Record<string, unknown>;

/** The share of the service's tasks an action takes out of service at once, and how many. */
export interface BlastRadius {
  tasksOutOfService: number;
  share: number;
  /** Tasks left serving while it runs. */
  runningDuring: number;
}

export interface ActionSpec {
  name: CatalogAction;
  description: string;
  risk: Risk;
  /** False only for actions whose effect cannot be taken back (a rotated secret). */
  reversible: boolean;
  /** How verification undoes it from the snapshot; null when irreversible or not mutating. */
  undo: string | null;
  /** Changes the service (escalate and none do not). */
  mutates: boolean;
  /** Needs a human whatever the autonomy level says (irreversible or open-ended). */
  alwaysApprove: boolean;
  /** IAM actions the act agent needs for it. */
  iam: string[];
  /** Problems with these parameters for this service; empty when it may run. */
  check(parameters: ActionParameters, service: ServiceState): string[];
  blastRadius(parameters: ActionParameters, service: ServiceState): BlastRadius;
}

/** Memory increases are bounded: at most this factor of the current memory in one step… */
export const maxMemoryFactor = 2;
/** …and never above Fargate's largest task. */
export const maxMemoryMiB = 120 * 1024;

const int = (value: unknown) => (typeof value === 'number' && Number.isInteger(value) ? value : null);
const text = (value: unknown) => (typeof value === 'string' && value.length > 0 ? value : null);

const noBlast = (service: ServiceState): BlastRadius => ({
  tasksOutOfService: 0,
  share: 0,
  runningDuring: service.runningCount,
});

/** A rolling redeploy takes out what the deployment configuration allows below 100% healthy. */
function redeployBlast(service: ServiceState): BlastRadius {
  const keep = Math.ceil((service.desiredCount * service.minimumHealthyPercent) / 100);
  const out = Math.max(0, Math.min(service.runningCount, service.desiredCount - keep));
  return {
    tasksOutOfService: out,
    share: service.desiredCount > 0 ? out / service.desiredCount : 0,
    runningDuring: service.runningCount - out,
  };
}

const onlyKeys = (parameters: ActionParameters, allowed: string[]) =>
  Object.keys(parameters)
    .filter((k) => !allowed.includes(k))
    .map((k) => `unknown parameter "${k}"`);

const ecsUpdate = ['ecs:UpdateService', 'ecs:DescribeServices'];

/** A new desired count: an integer, in the right direction, within the registered bounds. */
function scaleCheck(direction: 'out' | 'in', p: ActionParameters, s: ServiceState): string[] {
  const to = int(p.desiredCount);
  const unknown = onlyKeys(p, ['desiredCount']);
  if (to === null) return ['desiredCount must be an integer', ...unknown];
  const wrongWay = direction === 'out' ? to <= s.desiredCount : to >= s.desiredCount;
  const outOfBounds =
    direction === 'out'
      ? to > s.maxTasks && `desiredCount ${to} is above the registered maximum ${s.maxTasks}`
      : to < s.minTasks && `desiredCount ${to} is below the registered minimum ${s.minTasks}`;
  return [
    ...unknown,
    ...(wrongWay ? [`desiredCount ${to} does not scale ${direction} from ${s.desiredCount}`] : []),
    ...(outOfBounds ? [outOfBounds] : []),
  ];
}

const specs: ActionSpec[] = [
  {
    name: 'restart_service',
    description: 'Force a new deployment of the same revision (fresh tasks, rolling).',
    risk: 'low',
    reversible: true,
    undo: 'nothing to restore: the same revision keeps running',
    mutates: true,
    alwaysApprove: false,
    iam: ecsUpdate,
    check: (p, s) => [...onlyKeys(p, []), ...(s.desiredCount === 0 ? ['the service runs no tasks'] : [])],
    blastRadius: (_p, s) => redeployBlast(s),
  },
  {
    name: 'scale_out',
    description: 'Raise the desired count, bounded by the registered maximum.',
    risk: 'low',
    reversible: true,
    undo: 'set the desired count back to the snapshot',
    mutates: true,
    alwaysApprove: false,
    iam: ecsUpdate,
    check: (p, s) => scaleCheck('out', p, s),
    blastRadius: (_p, s) => noBlast(s),
  },
  {
    name: 'scale_in',
    description: 'Lower the desired count, never below the registered minimum.',
    risk: 'medium',
    reversible: true,
    undo: 'set the desired count back to the snapshot',
    mutates: true,
    alwaysApprove: false,
    iam: ecsUpdate,
    check: (p, s) => scaleCheck('in', p, s),
    blastRadius: (p, s) => {
      const to = int(p.desiredCount) ?? s.desiredCount;
      const out = Math.max(0, Math.min(s.runningCount, s.desiredCount - to));
      return {
        tasksOutOfService: out,
        share: s.desiredCount > 0 ? out / s.desiredCount : 0,
        runningDuring: s.runningCount - out,
      };
    },
  },
  {
    name: 'rollback_task_definition',
    description: 'Deploy the last known-good revision (one that stayed steady long enough).',
    risk: 'medium',
    reversible: true,
    undo: 'deploy the snapshot revision again',
    mutates: true,
    alwaysApprove: false,
    iam: ecsUpdate,
    check: (p, s) => {
      const to = text(p.taskDefinition);
      return [
        ...onlyKeys(p, ['taskDefinition']),
        ...(to === null ? ['taskDefinition must name a revision'] : []),
        ...(s.lastKnownGood === null ? ['no known-good revision is recorded for the service'] : []),
        ...(to !== null && s.lastKnownGood !== null && to !== s.lastKnownGood
          ? [`${to} is not the last known-good revision ${s.lastKnownGood}`]
          : []),
        ...(to !== null && to === s.taskDefinition ? [`${to} is already running`] : []),
      ];
    },
    blastRadius: (_p, s) => redeployBlast(s),
  },
  {
    name: 'stop_task',
    description: 'Stop one unhealthy task; the scheduler replaces it.',
    risk: 'low',
    reversible: true,
    undo: 'nothing to restore: the scheduler starts a replacement',
    mutates: true,
    alwaysApprove: false,
    iam: ['ecs:StopTask', 'ecs:DescribeTasks'],
    check: (p, s) => [
      ...onlyKeys(p, ['taskArn']),
      ...(text(p.taskArn) === null ? ['taskArn must name a task'] : []),
      ...(s.runningCount - 1 < s.minTasks
        ? [`stopping a task leaves ${s.runningCount - 1} running, below the minimum ${s.minTasks}`]
        : []),
    ],
    blastRadius: (_p, s) => ({
      tasksOutOfService: Math.min(1, s.runningCount),
      share: s.desiredCount > 0 ? 1 / s.desiredCount : 1,
      runningDuring: Math.max(0, s.runningCount - 1),
    }),
  },
  {
    name: 'switch_to_fallback',
    description: "Flip the service's configured fallback parameter and redeploy.",
    risk: 'medium',
    reversible: true,
    undo: 'restore the parameter value from the snapshot and redeploy',
    mutates: true,
    alwaysApprove: false,
    iam: ['ssm:GetParameter', 'ssm:PutParameter', ...ecsUpdate],
    check: (p, s) => [
      ...onlyKeys(p, ['parameterName', 'value']),
      ...(s.fallback === null ? ['the service has no fallback configured'] : []),
      ...(s.fallback && (p.parameterName !== s.fallback.parameterName || p.value !== s.fallback.value)
        ? ['only the configured fallback parameter and value may be set']
        : []),
    ],
    blastRadius: (_p, s) => redeployBlast(s),
  },
  {
    name: 'rotate_secret_and_redeploy',
    description: 'Rotate a secret the service reads and redeploy so tasks pick it up.',
    risk: 'high',
    reversible: false,
    undo: null,
    mutates: true,
    alwaysApprove: true,
    iam: ['secretsmanager:RotateSecret', 'secretsmanager:DescribeSecret', ...ecsUpdate],
    check: (p, s) => [
      ...onlyKeys(p, ['secretId']),
      ...(text(p.secretId) === null ? ['secretId must name a secret'] : []),
      ...(text(p.secretId) !== null && !s.secrets.includes(String(p.secretId))
        ? [`${String(p.secretId)} is not a secret registered for the service`]
        : []),
    ],
    blastRadius: (_p, s) => redeployBlast(s),
  },
  {
    name: 'run_task',
    description: 'Run a registered one-off maintenance task (migrations, cache clear).',
    risk: 'medium',
    reversible: true,
    undo: 'nothing to restore on the service; the task is stopped if still running',
    mutates: true,
    alwaysApprove: true,
    iam: ['ecs:RunTask', 'ecs:DescribeTasks', 'ecs:StopTask', 'iam:PassRole'],
    check: (p, s) => [
      ...onlyKeys(p, ['taskDefinition']),
      ...(text(p.taskDefinition) === null ? ['taskDefinition must name a maintenance task'] : []),
      ...(text(p.taskDefinition) !== null && !s.maintenanceTasks.includes(String(p.taskDefinition))
        ? [`${String(p.taskDefinition)} is not a registered maintenance task`]
        : []),
    ],
    blastRadius: (_p, s) => noBlast(s),
  },
  {
    name: 'increase_memory',
    description: 'Register a revision with more memory (bounded) and deploy it.',
    risk: 'medium',
    reversible: true,
    undo: 'deploy the snapshot revision again',
    mutates: true,
    alwaysApprove: true,
    iam: ['ecs:DescribeTaskDefinition', 'ecs:RegisterTaskDefinition', 'iam:PassRole', ...ecsUpdate],
    check: (p, s) => {
      const to = int(p.memoryMiB);
      if (to === null) return ['memoryMiB must be an integer', ...onlyKeys(p, ['memoryMiB'])];
      const from = s.memoryMiB;
      return [
        ...onlyKeys(p, ['memoryMiB']),
        ...(from === null ? ['the running revision declares no memory'] : []),
        ...(from !== null && to <= from ? [`memoryMiB ${to} is not more than the current ${from}`] : []),
        ...(from !== null && to > from * maxMemoryFactor
          ? [`memoryMiB ${to} is more than ${maxMemoryFactor}× the current ${from}`]
          : []),
        ...(to > maxMemoryMiB ? [`memoryMiB ${to} is above ${maxMemoryMiB}`] : []),
      ];
    },
    blastRadius: (_p, s) => redeployBlast(s),
  },
  {
    name: 'escalate',
    description: 'Hand the incident to humans.',
    risk: 'none',
    reversible: true,
    undo: null,
    mutates: false,
    alwaysApprove: false,
    iam: [],
    check: (p) => onlyKeys(p, ['reason']),
    blastRadius: (_p, s) => noBlast(s),
  },
  {
    name: 'none',
    description: 'Do nothing: the service is fine.',
    risk: 'none',
    reversible: true,
    undo: null,
    mutates: false,
    alwaysApprove: false,
    iam: [],
    check: (p) => onlyKeys(p, []),
    blastRadius: (_p, s) => noBlast(s),
  },
];

export const actionCatalog: ReadonlyMap<CatalogAction, ActionSpec> = new Map(specs.map((s) => [s.name, s]));

export function actionSpec(name: CatalogAction): ActionSpec {
  const spec = actionCatalog.get(name);
  if (!spec) throw new Error(`no catalog entry for ${name}`);
  return spec;
}
