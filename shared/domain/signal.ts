import type { DeploymentStateChange, ServiceAction, TaskStateChange } from '../events/aws-ecs.ts';
import type { AlarmStateChange } from '../events/cloudwatch-alarm.ts';
import type { AppSignal, ChaosMarker } from '../events/homeostat-inputs.ts';
import { redactDeep, redactText } from './redaction.ts';

export interface ServiceRef {
  cluster: string;
  service: string;
}

export interface ServiceSnapshot {
  status: string;
  desiredCount: number;
  runningCount: number;
  pendingCount: number;
  taskDefinition: string | null;
}

export type SignalKind = 'alarm' | 'task_stopped' | 'deployment' | 'service_action' | 'app' | 'chaos';
/** `fault`: something is wrong; `recovery`: it is fine again; `benign`: understood, needs nothing. */
export type Classification = 'fault' | 'recovery' | 'benign';

/** A normalised observation about (possibly) a watched ECS service. */
export interface Signal {
  /** The source event id: a redelivery of the same event maps to the same signal. */
  id: string;
  kind: SignalKind;
  /** Alarm name, stop code, deployment or service event name, app signal name. */
  name: string;
  classification: Classification;
  /** Alarm state, task last status, deployment/service event type. */
  state: string;
  previousState: string | null;
  reason: string;
  occurredAt: Date;
  /** The service as far as the event itself says; may be resolved further (tags, registry). */
  service: ServiceRef | null;
  /** Details worth keeping per kind (exit codes, task and deployment ids, experiment id…). */
  attributes: Record<string, string | number | boolean | null>;
  raw: unknown;
}

/** Inbound events Homeostat understands, parsed. */
export type InboundEvent =
  | { type: 'alarm'; event: AlarmStateChange }
  | { type: 'task'; event: TaskStateChange }
  | { type: 'deployment'; event: DeploymentStateChange }
  | { type: 'service_action'; event: ServiceAction }
  | { type: 'app'; event: AppSignal }
  | { type: 'chaos'; event: ChaosMarker };

export const limits = { name: 256, reason: 1024, rawBytes: 64 * 1024 } as const;

/** Cuts a string to `max` characters, marking the cut, so oversized input never breaks storage or logs. */
export function truncate(value: string, max: number): string {
  return value.length <= max ? value : `${value.slice(0, max - 1)}…`;
}

/** The raw event as stored: whole when it is small, otherwise a marked, bounded head. */
export function boundedRaw(raw: unknown): unknown {
  const json = JSON.stringify(raw) ?? 'null';
  if (json.length <= limits.rawBytes) return raw;
  return { truncated: true, originalLength: json.length, head: json.slice(0, limits.rawBytes / 4) };
}

const lastSegment = (arn: string) => arn.split('/').pop() ?? arn;

/** `arn:aws:ecs:region:account:cluster/NAME` or a bare name → NAME. */
export const clusterName = (clusterArnOrName: string) =>
  clusterArnOrName.includes(':') ? lastSegment(clusterArnOrName) : clusterArnOrName;

/** A service ARN `…:service/CLUSTER/SERVICE` (or the old `…:service/SERVICE` with the cluster given separately). */
export function serviceFromArn(arn: string, clusterArn?: string): ServiceRef | null {
  const match = /:service\/([^/]+)(?:\/([^/]+))?$/.exec(arn);
  if (!match?.[1]) return null;
  if (match[2]) return { cluster: match[1], service: match[2] };
  return clusterArn ? { cluster: clusterName(clusterArn), service: match[1] } : null;
}

/** The (cluster, service) from the first alarm metric whose dimensions name both. */
export function serviceFromAlarm(alarm: AlarmStateChange): ServiceRef | null {
  for (const metric of alarm.detail.configuration.metrics) {
    const dimensions = metric.metricStat?.metric.dimensions;
    if (dimensions?.ClusterName && dimensions.ServiceName) {
      return { cluster: dimensions.ClusterName, service: dimensions.ServiceName };
    }
  }
  return null;
}

/**
 * Why an event that could read as a fault needs nothing from Homeostat: the mechanism AWS
 * documents for it, kept on the signal as `attributes.benignMechanism`.
 *
 * - `alarm_actions_suppressed`: a composite alarm in ALARM whose actions are suppressed
 *   (`state.actionsSuppressedBy` is `Alarm`, `WaitPeriod` or `ExtensionPeriod`). Its owner
 *   made the state expected by design: a suppressor alarm (maintenance, a known outage
 *   upstream) is in ALARM or CloudWatch is waiting on it, and no action is to be taken —
 *   Homeostat's included. The child alarms still arrive and are read on their own.
 *   CloudWatch User Guide, "Alarm events and EventBridge" (state change for a composite
 *   alarm with a suppressor alarm) and "Composite alarm action suppression".
 * - `spot_interruption`: AWS reclaimed Fargate Spot capacity. ECS sends the two-minute
 *   warning as a task state change (stopCode `SpotInterruption`, `TerminationNotice` in
 *   older pages; stoppedReason "Your Spot Task was interrupted."), the task gets SIGTERM
 *   (then SIGKILL, so exit 143 or 137 says nothing about the application) and the service
 *   scheduler launches replacement tasks. No catalog action changes when AWS wants its
 *   capacity back. Amazon ECS Developer Guide, "AWS Fargate capacity providers" —
 *   "Handling Fargate Spot termination notices"; "Amazon ECS task state change events".
 *   Spot capacity that cannot be *acquired* (SERVICE_TASK_PLACEMENT_FAILURE,
 *   "RESOURCE:FARGATE") is a placement failure, not an interruption, and stays a fault.
 */
export type BenignMechanism = 'alarm_actions_suppressed' | 'spot_interruption';

/** One line per mechanism, for people (explain-event). */
export const benignMechanismText: Record<BenignMechanism, string> = {
  alarm_actions_suppressed: "the composite alarm's actions are suppressed by design",
  spot_interruption: 'a Fargate Spot interruption: AWS reclaimed the capacity and ECS replaces the task',
};

const spotInterruptedReason = /\bSpot Task was interrupted\b/i;

/** Whether a stop code / stopped reason is ECS announcing a Fargate Spot interruption. */
export function isSpotInterruption(stopCode: string | undefined, reason: string | undefined): boolean {
  return stopCode === 'SpotInterruption' || spotInterruptedReason.test(reason ?? '');
}

/** The documented mechanism that makes this event benign, or null (see BenignMechanism). */
export function benignMechanismOf(inbound: InboundEvent): BenignMechanism | null {
  switch (inbound.type) {
    case 'alarm': {
      // Only the would-be fault: an OK with actions suppressed is still a recovery.
      const state = inbound.event.detail.state;
      return state.value === 'ALARM' && state.actionsSuppressedBy ? 'alarm_actions_suppressed' : null;
    }
    case 'task': {
      const d = inbound.event.detail;
      return isSpotInterruption(d.stopCode, d.stoppedReason) ? 'spot_interruption' : null;
    }
    case 'service_action':
      return isSpotInterruption(undefined, inbound.event.detail.reason) ? 'spot_interruption' : null;
    default:
      return null;
  }
}

const healthCheckStop = /health ?checks?/i;
const oomReason = /OutOfMemory|OOM|memory usage/i;

function classifyTask(detail: TaskStateChange['detail']): Classification {
  if (detail.lastStatus !== 'STOPPED') return 'benign';
  const failedExit = detail.containers.some((c) => (c.exitCode ?? 0) !== 0 || oomReason.test(c.reason ?? ''));
  switch (detail.stopCode) {
    case 'TaskFailedToStart':
    case 'EssentialContainerExited':
      return 'fault';
    case 'ServiceSchedulerInitiated':
      // The scheduler also stops tasks for scaling and deployments; only failed health checks are faults.
      return healthCheckStop.test(detail.stoppedReason ?? '') ? 'fault' : 'benign';
    case 'UserInitiated':
    case 'TerminationNotice':
      // A Spot interruption is benign whatever its stop code (benignMechanismOf).
      return 'benign';
    default:
      return failedExit ? 'fault' : 'benign';
  }
}

function classifyDeployment(detail: DeploymentStateChange['detail']): Classification {
  if (detail.eventName === 'SERVICE_DEPLOYMENT_FAILED') return 'fault';
  if (/circuit breaker|rolling back|rollback/i.test(detail.reason ?? '')) return 'fault';
  if (detail.eventName === 'SERVICE_DEPLOYMENT_COMPLETED') return 'recovery';
  return 'benign';
}

const benignServiceActions = new Set([
  'CAPACITY_PROVIDER_STEADY_STATE',
  'SERVICE_DESIRED_COUNT_UPDATED',
  'ECS_OPERATION_THROTTLED',
  'SERVICE_DISCOVERY_OPERATION_THROTTLED',
]);

function classifyServiceAction(detail: ServiceAction['detail']): Classification {
  if (detail.eventName === 'SERVICE_STEADY_STATE' || detail.eventName === 'TASKSET_STEADY_STATE')
    return 'recovery';
  if (benignServiceActions.has(detail.eventName)) return 'benign';
  return detail.eventType === 'WARN' || detail.eventType === 'ERROR' ? 'fault' : 'benign';
}

const alarmClassification: Record<AlarmStateChange['detail']['state']['value'], Classification> = {
  ALARM: 'fault',
  OK: 'recovery',
  INSUFFICIENT_DATA: 'benign',
};

function fromTask(event: TaskStateChange): Omit<Signal, 'raw' | 'id'> {
  const d = event.detail;
  const failed = d.containers.find((c) => (c.exitCode ?? 0) !== 0 || c.reason) ?? d.containers[0];
  const group = d.group?.startsWith('service:') ? d.group.slice('service:'.length) : null;
  return {
    kind: 'task_stopped',
    name: d.stopCode ?? d.lastStatus,
    classification: classifyTask(d),
    state: d.lastStatus,
    previousState: null,
    reason: [d.stoppedReason, failed?.reason].filter(Boolean).join(' | '),
    occurredAt: new Date(d.stoppedAt ?? event.time),
    service: group ? { cluster: clusterName(d.clusterArn), service: group } : null,
    attributes: {
      taskArn: d.taskArn,
      taskDefinitionArn: d.taskDefinitionArn ?? null,
      stopCode: d.stopCode ?? null,
      container: failed?.name ?? null,
      exitCode: failed?.exitCode ?? null,
    },
  };
}

/**
 * The normalised signal for an inbound event. Pure: no lookups beyond the event
 * itself. `raw` is the event as delivered (schemas drop fields they do not name).
 * Reasons, attributes and the raw event quote the workload (stop reasons, app
 * messages, container overrides): they are stored redacted.
 */
export function toSignal(inbound: InboundEvent, raw: unknown = inbound.event): Signal {
  const base = ((): Omit<Signal, 'raw' | 'id'> => {
    switch (inbound.type) {
      case 'alarm': {
        const d = inbound.event.detail;
        return {
          kind: 'alarm',
          name: d.alarmName,
          classification: alarmClassification[d.state.value],
          state: d.state.value,
          previousState: d.previousState?.value ?? null,
          reason: d.state.reason,
          occurredAt: new Date(inbound.event.time),
          service: serviceFromAlarm(inbound.event),
          attributes: {
            alarmArn: inbound.event.resources[0] ?? null,
            composite: Boolean(d.configuration.alarmRule),
            // The metric it watches (its first): what kind of symptom the alarm is.
            metricName: d.configuration.metrics.find((m) => m.metricStat)?.metricStat?.metric.name ?? null,
            ...(d.state.actionsSuppressedBy
              ? {
                  actionsSuppressedBy: d.state.actionsSuppressedBy,
                  actionsSuppressedReason: d.state.actionsSuppressedReason ?? null,
                }
              : {}),
          },
        };
      }
      case 'task':
        return fromTask(inbound.event);
      case 'deployment':
      case 'service_action': {
        const e = inbound.event;
        const d = e.detail;
        const serviceArn = e.resources.find((r) => r.includes(':service/'));
        const clusterArn = 'clusterArn' in d ? d.clusterArn : undefined;
        return {
          kind: inbound.type,
          name: d.eventName,
          classification:
            inbound.type === 'deployment'
              ? classifyDeployment(inbound.event.detail)
              : classifyServiceAction(inbound.event.detail),
          state: d.eventType,
          previousState: null,
          reason: d.reason ?? '',
          occurredAt: new Date(e.time),
          service: serviceArn ? serviceFromArn(serviceArn, clusterArn) : null,
          attributes: { deploymentId: 'deploymentId' in d ? (d.deploymentId ?? null) : null },
        };
      }
      case 'app': {
        const d = inbound.event.detail;
        return {
          kind: 'app',
          name: d.name,
          classification: d.severity === 'info' ? 'benign' : d.severity,
          state: d.severity,
          previousState: null,
          reason: d.message,
          occurredAt: new Date(inbound.event.time),
          service: { cluster: d.cluster, service: d.service },
          attributes: { ...(d.attributes ?? {}) },
        };
      }
      case 'chaos': {
        const d = inbound.event.detail.data;
        return {
          kind: 'chaos',
          name: d.experiment,
          classification: 'benign',
          state: 'injected',
          previousState: null,
          reason: `chaos experiment ${d.experiment} (${d.experimentId}) injected`,
          occurredAt: new Date(inbound.event.time),
          service: { cluster: d.cluster, service: d.service },
          attributes: { chaosExperimentId: d.experimentId },
        };
      }
    }
  })();
  const benign = benignMechanismOf(inbound);
  return {
    ...base,
    ...(benign ? { classification: 'benign' } : {}),
    id: inbound.event.id,
    name: truncate(base.name, limits.name),
    reason: truncate(redactText(base.reason), limits.reason),
    attributes: redactDeep(benign ? { ...base.attributes, benignMechanism: benign } : base.attributes),
    raw: boundedRaw(redactDeep(raw)),
  };
}
