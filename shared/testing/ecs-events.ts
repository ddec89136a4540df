/**
 * ECS events in the shapes the AWS documentation shows ("Amazon ECS events"),
 * for tests, the demo and the bench.
 */
import { randomUUID } from 'node:crypto';

const account = '111122223333';
const region = 'us-west-2';
const arn = (resource: string) => `arn:aws:ecs:${region}:${account}:${resource}`;

interface Common {
  id?: string;
  cluster?: string;
  service?: string;
  time?: Date;
}

const envelope = (detailType: string, resources: string[], detail: object, options: Common) => ({
  version: '0',
  id: options.id ?? randomUUID(),
  'detail-type': detailType,
  source: 'aws.ecs',
  account,
  time: (options.time ?? new Date()).toISOString().replace(/\.\d{3}Z$/, 'Z'),
  region,
  resources,
  detail,
});

export interface TaskStoppedOptions extends Common {
  stopCode?: string;
  stoppedReason?: string;
  exitCode?: number | null;
  containerReason?: string;
  lastStatus?: string;
  /** The task's group; default `service:<service>`. */
  group?: string;
}

/** "ECS Task State Change" for a Fargate task (default: OOM-killed essential container). */
export function taskStoppedEvent(options: TaskStoppedOptions = {}) {
  const cluster = options.cluster ?? 'FargateCluster';
  const service = options.service ?? 'sample-fargate';
  const taskId = randomUUID().replace(/-/g, '');
  const taskArn = arn(`task/${cluster}/${taskId}`);
  const time = (options.time ?? new Date()).toISOString();
  return envelope(
    'ECS Task State Change',
    [taskArn],
    {
      attachments: [{ id: randomUUID(), type: 'eni', status: 'DELETED', details: [] }],
      availabilityZone: `${region}c`,
      clusterArn: arn(`cluster/${cluster}`),
      containers: [
        {
          containerArn: arn(`container/${cluster}/${taskId}/${randomUUID()}`),
          exitCode: options.exitCode === undefined ? 137 : options.exitCode,
          lastStatus: 'STOPPED',
          name: 'app',
          image: `${account}.dkr.ecr.${region}.amazonaws.com/${service}:1.5`,
          reason: options.containerReason ?? 'OutOfMemoryError: Container killed due to memory usage',
          taskArn,
          networkInterfaces: [],
          cpu: '0',
        },
      ],
      cpu: '256',
      createdAt: time,
      desiredStatus: 'STOPPED',
      group: options.group ?? `service:${service}`,
      launchType: 'FARGATE',
      lastStatus: options.lastStatus ?? 'STOPPED',
      memory: '512',
      platformVersion: '1.4.0',
      stopCode: options.stopCode ?? 'EssentialContainerExited',
      stoppedAt: time,
      stoppedReason: options.stoppedReason ?? 'Essential container in task exited',
      stoppingAt: time,
      taskArn,
      taskDefinitionArn: arn(`task-definition/${service}:2`),
      updatedAt: time,
      version: 5,
    },
    options,
  );
}

export interface ServiceEventOptions extends Common {
  eventName?: string;
  eventType?: 'INFO' | 'WARN' | 'ERROR';
  reason?: string;
  /** Deployment events only; default a random `ecs-svc/…`. */
  deploymentId?: string;
}

/** "ECS Deployment State Change" (default: a failed deployment rolled back by the circuit breaker). */
export function deploymentEvent(options: ServiceEventOptions = {}) {
  const cluster = options.cluster ?? 'default';
  const service = options.service ?? 'servicetest';
  return envelope(
    'ECS Deployment State Change',
    [arn(`service/${cluster}/${service}`)],
    {
      eventType: options.eventType ?? 'ERROR',
      eventName: options.eventName ?? 'SERVICE_DEPLOYMENT_FAILED',
      deploymentId: options.deploymentId ?? `ecs-svc/${Math.floor(Math.random() * 1e18)}`,
      updatedAt: (options.time ?? new Date()).toISOString(),
      reason: options.reason ?? 'ECS deployment circuit breaker: task failed to start.',
    },
    options,
  );
}

/** "ECS Service Action" (default: task placement failure for lack of capacity). */
export function serviceActionEvent(options: ServiceEventOptions & { capacityProvider?: string } = {}) {
  const cluster = options.cluster ?? 'default';
  const service = options.service ?? 'servicetest';
  return envelope(
    'ECS Service Action',
    [arn(`service/${cluster}/${service}`)],
    {
      eventType: options.eventType ?? 'ERROR',
      eventName: options.eventName ?? 'SERVICE_TASK_PLACEMENT_FAILURE',
      clusterArn: arn(`cluster/${cluster}`),
      capacityProviderArns: [arn(`capacity-provider/${options.capacityProvider ?? 'ASGProvider'}`)],
      reason: options.reason ?? 'RESOURCE:MEMORY',
      createdAt: (options.time ?? new Date()).toISOString(),
    },
    options,
  );
}

/** An application signal on the homeostat bus. */
export function appSignalEvent(
  options: Common & { name?: string; severity?: 'fault' | 'recovery' | 'info'; message?: string } = {},
) {
  return {
    version: '0',
    id: options.id ?? randomUUID(),
    'detail-type': 'app.signal',
    source: 'homeostat.app',
    account,
    time: (options.time ?? new Date()).toISOString(),
    region,
    resources: [],
    detail: {
      cluster: options.cluster ?? 'shop',
      service: options.service ?? 'api',
      name: options.name ?? 'checkout-errors',
      severity: options.severity ?? 'fault',
      message: options.message ?? 'checkout error rate 12% over 5 minutes',
    },
  };
}

/** A chaos marker: the chaos agent's `chaos.injected` envelope as it arrives on the bus. */
export function chaosMarkerEvent(options: Common & { experimentId?: string; experiment?: string } = {}) {
  const experimentId = options.experimentId ?? randomUUID();
  return {
    version: '0',
    id: options.id ?? randomUUID(),
    'detail-type': 'chaos.injected',
    source: 'homeostat.chaos',
    account,
    time: (options.time ?? new Date()).toISOString(),
    region,
    resources: [],
    detail: {
      id: randomUUID(),
      type: 'chaos.injected',
      source: 'homeostat.chaos',
      data: {
        experimentId,
        experiment: options.experiment ?? 'stop_tasks',
        cluster: options.cluster ?? 'shop',
        service: options.service ?? 'api',
      },
    },
  };
}
