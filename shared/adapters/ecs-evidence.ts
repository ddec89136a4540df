import {
  type ContainerDefinition,
  DescribeServicesCommand,
  DescribeTaskDefinitionCommand,
  DescribeTasksCommand,
  type ECSClient,
  ListTasksCommand,
  type TaskDefinition,
} from '@aws-sdk/client-ecs';
import type { DeploymentFact, IncidentBrief, StoppedTask } from '../domain/diagnosis.ts';
import {
  type AnyFinding,
  describeDiff,
  diffTaskDefinitions,
  type EvidenceTool,
  redact,
  type TaskDefinitionView,
} from '../domain/evidence.ts';

const maxServiceEvents = 20;
/** ECS keeps stopped tasks for about an hour; the latest few say enough. */
const maxStoppedTasks = 20;

function view(td: TaskDefinition): TaskDefinitionView {
  const main: ContainerDefinition | undefined =
    td.containerDefinitions?.find((c) => c.essential !== false) ?? td.containerDefinitions?.[0];
  const number = (v: string | number | undefined) => (v === undefined || v === '' ? null : Number(v));
  return {
    arn: td.taskDefinitionArn ?? '',
    image: main?.image ?? null,
    memory: number(td.memory ?? main?.memory),
    cpu: number(td.cpu ?? main?.cpu),
    command: main?.command ?? [],
    environment: Object.fromEntries((main?.environment ?? []).map((e) => [e.name ?? '', e.value ?? ''])),
    mounts: (main?.mountPoints ?? []).map((m) => {
      const volume = td.volumes?.find((v) => v.name === m.sourceVolume);
      const kind = volume?.efsVolumeConfiguration ? ' (efs)' : volume?.host ? ' (host)' : '';
      return `${m.sourceVolume ?? ''}:${m.containerPath ?? ''}${kind}`;
    }),
  };
}

/** `family:revision` of the revision before `arn`, or null for the first one. */
function previousRevision(arn: string): string | null {
  const match = /task-definition\/([^:]+):(\d+)$/.exec(arn);
  if (!match) return null;
  const revision = Number(match[2]);
  return revision > 1 ? `${match[1]}:${revision - 1}` : null;
}

/**
 * The ECS control plane's view of the service: its state, its recent events
 * (untrusted: they quote task output), its deployments timed against the
 * incident, and what the running revision changed against the one before.
 */
export class EcsEvidenceTool implements EvidenceTool {
  readonly name = 'ecs';

  constructor(private readonly client: ECSClient) {}

  async gather(
    incident: IncidentBrief,
    abortSignal: AbortSignal,
  ): Promise<AnyFinding[] | { missing: string }> {
    const out = await this.client.send(
      new DescribeServicesCommand({ cluster: incident.cluster, services: [incident.service] }),
      { abortSignal },
    );
    const service = out.services?.[0];
    if (!service) return { missing: `ECS does not know ${incident.cluster}/${incident.service} (deleted?)` };
    const opened = Date.parse(incident.openedAt);
    const findings: AnyFinding[] = [
      {
        kind: 'service',
        summary: `${service.status ?? 'UNKNOWN'}: ${service.runningCount ?? 0} running of ${service.desiredCount ?? 0} desired, ${service.pendingCount ?? 0} pending`,
        facts: {
          status: service.status ?? 'UNKNOWN',
          desiredCount: service.desiredCount ?? 0,
          runningCount: service.runningCount ?? 0,
          pendingCount: service.pendingCount ?? 0,
          taskDefinition: service.taskDefinition ?? null,
        },
      },
    ];
    const messages = (service.events ?? []).slice(0, maxServiceEvents).map((e) => redact(e.message ?? ''));
    if (messages.length > 0)
      findings.push({
        kind: 'service_events',
        summary: `${messages.length} recent service events, latest: ${messages[0]}`,
        facts: { messages },
        untrusted: true,
      });
    const created = service.createdAt?.getTime() ?? null;
    const listed = service.deployments ?? [];
    // ECS lists deployments newest first: only the oldest can be the one that created the service.
    const deployments: DeploymentFact[] = listed.map((d, i) => ({
      id: d.id ?? '',
      taskDefinition: (d.taskDefinition ?? '').replace(/^.*task-definition\//, ''),
      status: d.status ?? '',
      rolloutState: d.rolloutState ?? null,
      minutesBeforeIncident: d.createdAt ? Math.round((opened - d.createdAt.getTime()) / 60_000) : null,
      initial:
        i === listed.length - 1 &&
        created !== null &&
        d.createdAt !== undefined &&
        Math.abs(d.createdAt.getTime() - created) <= 1_000,
    }));
    if (deployments.length > 0)
      findings.push({
        kind: 'deployments',
        summary: deployments
          .map(
            (d) =>
              `${d.status} ${d.taskDefinition} ${d.rolloutState ?? ''} (${d.initial ? 'created the service, ' : ''}${d.minutesBeforeIncident ?? '?'} min before the incident)`,
          )
          .join('; '),
        facts: { deployments },
      });
    const stopped = await this.stoppedTasks(incident, abortSignal);
    if (stopped.length > 0)
      findings.push({
        kind: 'stopped_tasks',
        summary: `${stopped.length} stopped tasks, latest: ${stopped[0]?.stopCode} ${stopped[0]?.stoppedReason}`,
        facts: { tasks: stopped },
        // Stop and container reasons quote the workload's own output.
        untrusted: true,
      });
    const running = service.taskDefinition;
    const previous = running ? previousRevision(running) : null;
    if (running && previous) {
      const [now, before] = await Promise.all(
        [running, previous].map(
          async (taskDefinition) =>
            (await this.client.send(new DescribeTaskDefinitionCommand({ taskDefinition }), { abortSignal }))
              .taskDefinition,
        ),
      );
      if (now && before) {
        const diff = diffTaskDefinitions(view(before), view(now));
        findings.push({
          kind: 'task_definition_diff',
          summary: `${previous} → ${running.replace(/^.*\//, '')}: ${describeDiff(diff)}`,
          facts: diff,
        });
      }
    }
    return findings;
  }

  /** The service's recently stopped tasks, latest first, with stop codes and container exit codes. */
  private async stoppedTasks(incident: IncidentBrief, abortSignal: AbortSignal): Promise<StoppedTask[]> {
    const list = await this.client.send(
      new ListTasksCommand({
        cluster: incident.cluster,
        serviceName: incident.service,
        desiredStatus: 'STOPPED',
        maxResults: 100,
      }),
      { abortSignal },
    );
    const arns = list.taskArns ?? [];
    if (arns.length === 0) return [];
    const out = await this.client.send(new DescribeTasksCommand({ cluster: incident.cluster, tasks: arns }), {
      abortSignal,
    });
    return (out.tasks ?? [])
      .map((t) => ({
        taskId: (t.taskArn ?? '').replace(/^.*\//, ''),
        stopCode: t.stopCode ?? '',
        stoppedReason: redact(t.stoppedReason ?? ''),
        exitCodes: (t.containers ?? []).flatMap((c) => (c.exitCode === undefined ? [] : [c.exitCode])),
        containerReasons: (t.containers ?? []).flatMap((c) => (c.reason ? [redact(c.reason)] : [])),
        stoppedAt: t.stoppedAt?.toISOString() ?? null,
      }))
      .sort((a, b) => (b.stoppedAt ?? '').localeCompare(a.stoppedAt ?? ''))
      .slice(0, maxStoppedTasks);
  }
}
