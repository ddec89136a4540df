/**
 * Deterministic pre-analysis: rules over the evidence that name candidate
 * root causes with the evidence ids they rest on, and the offline diagnosis
 * built from them plus knowledge similarity. Pure and reproducible: the same
 * investigation always gives the same answer.
 */
import type {
  Diagnoser,
  Diagnosis,
  DiagnosisProposal,
  Evidence,
  EvidenceFacts,
  EvidenceKind,
  Hypothesis,
  Investigation,
  StoppedTask,
} from './diagnosis.ts';
import { type CatalogAction, isCatalogAction, type RootCause } from './taxonomy.ts';

type Candidate = Hypothesis;

/** A deployment this close before the first symptom is a suspect. */
const recentDeploymentMinutes = 60;

const find = <K extends EvidenceKind>(inv: Investigation, kind: K) =>
  inv.evidence.filter((e): e is Evidence<K> => e.kind === kind);

const maxOf = (values: number[]) => (values.length > 0 ? Math.max(...values) : Number.NaN);
const mean = (values: number[]) =>
  values.length > 0 ? values.reduce((a, b) => a + b, 0) / values.length : Number.NaN;

/**
 * Stopped tasks as ECS describes them and as its task state change events
 * reported them (the perception agent's signals: they keep exit codes after
 * ECS forgets the task). One entry per task, ECS's description first.
 */
function stoppedTasks(inv: Investigation): { id: string; task: StoppedTask; count: number }[] {
  const fromEcs = find(inv, 'stopped_tasks').flatMap((e) =>
    e.facts.tasks.map((task) => ({ id: e.id, task, count: 1 })),
  );
  const fromSignals = find(inv, 'signals').flatMap((e) =>
    e.facts.signals
      .filter((s) => s.kind === 'task_stopped')
      .map((s) => {
        const exitCode = s.attributes.exitCode;
        return {
          id: e.id,
          // Repeats of one symptom are one signal with a count: so many tasks stopped that way.
          count: s.occurrences,
          task: {
            taskId: String(s.attributes.taskArn ?? '').replace(/^.*\//, ''),
            stopCode: typeof s.attributes.stopCode === 'string' ? s.attributes.stopCode : s.name,
            stoppedReason: s.reason,
            exitCodes: typeof exitCode === 'number' ? [exitCode] : [],
            containerReasons: [],
            stoppedAt: s.occurredAt,
          },
        };
      }),
  );
  const seen = new Set<string>();
  return [...fromEcs, ...fromSignals].filter(({ task }) => {
    if (task.taskId && seen.has(task.taskId)) return false;
    seen.add(task.taskId);
    return true;
  });
}

/** Text the rules match: stop reasons, container reasons, log lines, service events, signal reasons. */
function texts(inv: Investigation) {
  const tasks = stoppedTasks(inv).map(({ id, task: t }) => ({
    id,
    text: `${t.stopCode} ${t.stoppedReason} ${t.containerReasons.join(' ')}`,
  }));
  const logs = find(inv, 'logs').flatMap((e) => e.facts.lines.map((text) => ({ id: e.id, text })));
  const events = find(inv, 'service_events').flatMap((e) =>
    e.facts.messages.map((text) => ({ id: e.id, text })),
  );
  const signals = find(inv, 'signals').flatMap((e) =>
    e.facts.signals.map((s) => ({ id: e.id, text: `${s.name} ${s.reason}` })),
  );
  return { tasks, logs, events, signals, all: [...tasks, ...logs, ...events, ...signals] };
}

const matching = (items: { id: string; text: string }[], pattern: RegExp) => [
  ...new Set(items.filter((i) => pattern.test(i.text)).map((i) => i.id)),
];

function metric(inv: Investigation, name: string): { id: string; values: number[] } | null {
  for (const e of find(inv, 'metrics')) {
    const values = e.facts.series[name];
    if (values && values.length > 0) return { id: e.id, values };
  }
  return null;
}

/** The last few minutes against the minutes before them. */
function lastVersusBaseline(values: number[], last = 3) {
  const recent = values.slice(-last);
  const before = values.slice(0, -last);
  return {
    recent: mean(recent),
    peak: maxOf(recent),
    baseline: before.length > 0 ? mean(before) : Number.NaN,
  };
}

function recentDeployment(inv: Investigation) {
  for (const e of find(inv, 'deployments')) {
    const hit = e.facts.deployments.find(
      (d) =>
        !d.initial &&
        d.minutesBeforeIncident !== null &&
        d.minutesBeforeIncident >= 0 &&
        d.minutesBeforeIncident <= recentDeploymentMinutes,
    );
    if (hit) return { id: e.id, deployment: hit };
  }
  return null;
}

function failedRollout(inv: Investigation) {
  for (const e of find(inv, 'deployments')) {
    const hit = e.facts.deployments.find(
      (d) => d.rolloutState === 'FAILED' || /FAILED|ROLLBACK/i.test(d.status),
    );
    if (hit) return { id: e.id, deployment: hit };
  }
  // ECS's deployment events say so too, after the service has moved on.
  for (const e of find(inv, 'signals')) {
    const failed = e.facts.signals.find((s) => s.kind === 'deployment' && s.classification === 'fault');
    if (failed)
      return {
        id: e.id,
        deployment: {
          id: String(failed.attributes.deploymentId ?? ''),
          taskDefinition: 'the latest revision',
          status: failed.name,
          rolloutState: 'FAILED',
          minutesBeforeIncident: null,
          initial: false,
        },
      };
  }
  return null;
}

const diffOf = (inv: Investigation): { id: string; diff: EvidenceFacts['task_definition_diff'] } | null => {
  const e = find(inv, 'task_definition_diff')[0];
  return e ? { id: e.id, diff: e.facts } : null;
};

const failedTasks = (inv: Investigation) =>
  stoppedTasks(inv).filter(
    ({ task }) => task.stopCode !== 'ServiceSchedulerInitiated' && task.stopCode !== 'UserInitiated',
  );

const patterns = {
  oom: /OutOfMemory|out of memory|OOM[- ]?Kill|memory limit|exit code:? 137/i,
  imagePull:
    /CannotPullContainerError|pull access denied|manifest .* not found|image .* not found|ImagePull/i,
  healthCheck: /fail(ed)? (ELB|container|load balancer|target)? ?health ?checks?|unhealthy/i,
  placement:
    /unable to place a task|no container instance met|insufficient (memory|cpu)|RESOURCE:|capacity is unavailable|SERVICE_TASK_PLACEMENT_FAILURE/i,
  dependency:
    /ECONNREFUSED|connection refused|ETIMEDOUT|timed? ?out (connecting|waiting)|getaddrinfo|ENOTFOUND|no route to host|upstream (connect )?error|503 Service Unavailable|connection reset/i,
  secret:
    /authentication failed|password authentication|access denied|invalid (credentials|token|password|api key)|unauthori[sz]ed|\b401\b|AccessDeniedException|secret.*(invalid|expired|rotated)|ResourceInitializationError.*secret/i,
  config:
    /missing (required )?(env(ironment)?( variable)?|config(uration)?|setting)|is not defined in (the )?environment|undefined (env|config)|invalid config(uration)?|unknown (option|flag)|env var .* (missing|required)|required (env|configuration|setting)/i,
  crash: /EssentialContainerExited|exited|exit code|segmentation fault|panic|uncaught exception|unhandled/i,
} as const;

/** Every rule's candidates; several may fire, the strongest leads. */
export function preAnalyse(inv: Investigation): Candidate[] {
  const component = inv.incident.service;
  const t = texts(inv);
  const out: Candidate[] = [];
  const add = (rootCause: RootCause, confidence: number, evidenceIds: string[], explanation: string) => {
    const ids = [...new Set(evidenceIds.filter(Boolean))];
    if (ids.length > 0)
      out.push({
        rootCause,
        component,
        confidence: Math.min(0.95, confidence),
        evidenceIds: ids,
        explanation,
      });
  };
  const deploy = recentDeployment(inv);
  const rollout = failedRollout(inv);
  const diff = diffOf(inv);
  const failed = failedTasks(inv);
  const deployIds = deploy ? [deploy.id, ...(diff ? [diff.id] : [])] : [];

  // OOM: exit 137 with an OOM reason is conclusive; memory pinned at the limit is strong.
  const oomTasks = failed.filter(
    ({ task }) =>
      task.exitCodes.includes(137) ||
      patterns.oom.test(`${task.stoppedReason} ${task.containerReasons.join(' ')}`),
  );
  const memory = metric(inv, 'MemoryUtilization');
  const memoryHigh = memory && lastVersusBaseline(memory.values).peak >= 95;
  const oomLogs = matching(t.logs, patterns.oom);
  if (oomTasks.length > 0 || (memoryHigh && oomLogs.length > 0)) {
    const memoryDown = diff?.diff.memory && (diff.diff.memory.to ?? 0) < (diff.diff.memory.from ?? 0);
    add(
      'oom',
      oomTasks.length > 0 ? 0.85 + (memoryHigh ? 0.05 : 0) : 0.7,
      [
        ...oomTasks.map((o) => o.id),
        ...(memoryHigh && memory ? [memory.id] : []),
        ...oomLogs,
        ...(deploy ? deployIds : []),
      ],
      `tasks were killed for memory${memoryHigh ? ', memory at the limit' : ''}${deploy ? `; deployment ${deploy.deployment.taskDefinition} started ${deploy.deployment.minutesBeforeIncident} min before${memoryDown ? ' and lowered memory' : ''}` : ''}`,
    );
  } else if (memoryHigh && memory) {
    add('oom', 0.55, [memory.id], 'memory utilisation at the limit, no kills seen yet');
  }

  const pull = matching([...t.tasks, ...t.events, ...t.signals], patterns.imagePull);
  if (pull.length > 0)
    add('image_pull_failure', 0.9, [...pull, ...deployIds], 'tasks cannot pull their container image');

  const placement = matching([...t.events, ...t.signals], patterns.placement);
  if (placement.length > 0)
    add('capacity_shortfall', 0.8, placement, 'ECS cannot place tasks: not enough capacity');

  const health = matching([...t.tasks, ...t.events], patterns.healthCheck);
  const unhealthy = metric(inv, 'UnHealthyHostCount');
  const unhealthyNow = unhealthy && lastVersusBaseline(unhealthy.values).peak > 0;
  if (health.length > 0 || unhealthyNow)
    add(
      'health_check_failure',
      health.length > 0 ? 0.75 : 0.55,
      [...health, ...(unhealthyNow && unhealthy ? [unhealthy.id] : [])],
      'tasks fail their load balancer or container health checks',
    );

  const secret = matching([...t.logs, ...t.tasks], patterns.secret);
  if (secret.length > 0)
    add(
      'secret_invalid',
      0.75 + (diff?.diff.environment.changed.length ? 0.05 : 0),
      secret,
      'authentication with a credential the service holds fails',
    );

  const dependency = matching(t.logs, patterns.dependency);
  if (dependency.length > 0 && secret.length === 0)
    add('dependency_failure', 0.75, dependency, 'the service cannot reach a dependency');

  const config = matching([...t.logs, ...t.tasks], patterns.config);
  const envChanged =
    diff &&
    (diff.diff.environment.added.length +
      diff.diff.environment.removed.length +
      diff.diff.environment.changed.length >
      0 ||
      diff.diff.command);
  if (config.length > 0)
    add(
      'config_error',
      0.8,
      [...config, ...(envChanged && diff ? [diff.id] : []), ...(deploy ? [deploy.id] : [])],
      'the service rejects its configuration',
    );

  // Crash loop: tasks exiting non-zero again and again, for no reason the rules above explain
  // (after a recent deployment, the deployment is the reason: see below).
  const crashes = failed.filter(
    ({ task }) =>
      task.exitCodes.some((c) => c !== 0 && c !== 137) ||
      (task.exitCodes.length === 0 && patterns.crash.test(task.stoppedReason)),
  );
  const crashed = crashes.reduce((n, c) => n + c.count, 0);
  if (crashed >= 2 && !deploy && out.every((c) => c.confidence < 0.7))
    add(
      'crash_loop',
      0.7,
      crashes.map((c) => c.id),
      `${crashed} tasks exited with errors`,
    );

  // A deployment shortly before the first symptom, with failures or a failed rollout: the change is the cause.
  if (rollout || (deploy && (failed.length > 0 || out.length > 0))) {
    const already = out.some((c) => c.confidence >= 0.8);
    add(
      'bad_deployment',
      rollout ? 0.85 : already ? 0.6 : 0.7,
      [...(rollout ? [rollout.id] : []), ...deployIds, ...failed.map((f) => f.id)],
      rollout
        ? `deployment ${rollout.deployment.taskDefinition} failed its rollout`
        : `symptoms began ${deploy?.deployment.minutesBeforeIncident} min after deploying ${deploy?.deployment.taskDefinition}`,
    );
  }

  const cpu = metric(inv, 'CPUUtilization');
  if (cpu) {
    const c = lastVersusBaseline(cpu.values);
    if (c.recent >= 90)
      add('cpu_saturation', 0.75, [cpu.id], `CPU at ${Math.round(c.recent)}% over the last minutes`);
  }

  const latency = metric(inv, 'TargetResponseTime');
  if (latency) {
    const l = lastVersusBaseline(latency.values);
    const errors = metric(inv, 'HTTPCode_Target_5XX_Count');
    const erroring = errors && lastVersusBaseline(errors.values).peak > 0;
    if (l.baseline > 0 && l.recent >= 2 * l.baseline && out.length === 0)
      add(
        'latency_degradation',
        erroring ? 0.6 : 0.7,
        [latency.id, ...(erroring && errors ? [errors.id] : [])],
        `response time ${(l.recent / l.baseline).toFixed(1)}× its baseline`,
      );
  }

  return merge(out);
}

/** One candidate per root cause: the strongest confidence, every cited piece of evidence. */
function merge(candidates: Candidate[]): Candidate[] {
  const byCause = new Map<RootCause, Candidate>();
  for (const c of candidates) {
    const seen = byCause.get(c.rootCause);
    if (!seen) byCause.set(c.rootCause, { ...c });
    else {
      seen.evidenceIds = [...new Set([...seen.evidenceIds, ...c.evidenceIds])];
      if (c.confidence > seen.confidence)
        Object.assign(seen, { confidence: c.confidence, explanation: c.explanation });
    }
  }
  return [...byCause.values()].sort((a, b) => b.confidence - a.confidence);
}

/** What the taxonomy suggests per root cause, best first; the planner and policy decide. */
export function defaultActions(rootCause: RootCause, inv: Investigation): CatalogAction[] {
  const deployed = recentDeployment(inv) !== null || failedRollout(inv) !== null;
  switch (rootCause) {
    case 'bad_deployment':
    case 'image_pull_failure':
      return ['rollback_task_definition', 'escalate'];
    case 'oom':
      return deployed
        ? ['rollback_task_definition', 'increase_memory']
        : ['increase_memory', 'restart_service'];
    case 'config_error':
    case 'crash_loop':
      return deployed ? ['rollback_task_definition', 'escalate'] : ['restart_service', 'escalate'];
    case 'cpu_saturation':
    case 'latency_degradation':
      return ['scale_out', 'escalate'];
    case 'capacity_shortfall':
      return ['scale_out', 'escalate'];
    case 'dependency_failure':
      return ['switch_to_fallback', 'escalate'];
    case 'secret_invalid':
      return ['rotate_secret_and_redeploy', 'escalate'];
    case 'health_check_failure':
      return deployed ? ['rollback_task_definition', 'restart_service'] : ['restart_service', 'stop_task'];
    case 'no_fault':
      return ['none'];
  }
}

/**
 * The offline diagnosis: pre-analysis, nudged by similar past incidents (a
 * close match with the same cause adds confidence; their successful actions
 * come first). With no rule firing, a healthy service is no fault; an
 * unhealthy one is insufficient evidence, which escalates.
 */
export function offlineProposal(inv: Investigation): DiagnosisProposal {
  const candidates = preAnalyse(inv);
  const similar = find(inv, 'similar_incidents').flatMap((e) =>
    e.facts.incidents.map((i) => ({ id: e.id, ...i })),
  );
  for (const c of candidates) {
    const match = similar.find((s) => s.rootCause === c.rootCause && s.score >= 0.8);
    if (match) {
      c.confidence = Math.min(0.95, c.confidence + 0.05);
      c.evidenceIds = [...new Set([...c.evidenceIds, match.id])];
    }
  }
  candidates.sort((a, b) => b.confidence - a.confidence);
  const top = candidates[0];
  if (top) {
    // What worked on this cause before goes first (knowledge is data too: catalog names only).
    const learned = similar
      .filter((s) => s.rootCause === top.rootCause)
      .flatMap((s) => s.actions.filter((a) => a.successRate >= 0.6).map((a) => a.action))
      .filter(isCatalogAction);
    const actions = [...new Set([...learned, ...defaultActions(top.rootCause, inv)])];
    return { hypotheses: candidates.slice(0, 3), recommendedActions: actions, insufficientEvidence: false };
  }
  const service = find(inv, 'service')[0];
  const healthy =
    service && service.facts.runningCount >= service.facts.desiredCount && service.facts.status === 'ACTIVE';
  if (healthy && failedTasks(inv).length === 0) {
    const cited = [service.id, ...find(inv, 'metrics').map((m) => m.id)];
    return {
      hypotheses: [
        {
          rootCause: 'no_fault',
          component: inv.incident.service,
          confidence: 0.6,
          evidenceIds: cited,
          explanation: 'the service is steady and no evidence points to a fault',
        },
      ],
      recommendedActions: ['none'],
      insufficientEvidence: false,
    };
  }
  return { hypotheses: [], recommendedActions: ['escalate'], insufficientEvidence: true };
}

/** The offline provider: deterministic, no model, no cost. The default locally and the fallback in AWS. */
export const offlineDiagnoser: Diagnoser = {
  async diagnose(inv: Investigation): Promise<Diagnosis> {
    return {
      ...offlineProposal(inv),
      provider: 'offline',
      model: null,
      steps: 0,
      tokens: { input: 0, output: 0 },
      costUsd: 0,
      fallbackReason: null,
      gaps: inv.gaps,
    };
  },
};
