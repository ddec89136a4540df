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
  Judgement,
  JudgementFacts,
  StoppedTask,
  TaskDefinitionDiff,
} from './diagnosis.ts';
import { redact } from './evidence.ts';
import { type Mechanism, mechanismSpecs } from './mechanisms.ts';
import { matchSignatures, type SourcedText } from './signatures.ts';
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

/** A stop the task did not ask for: not the scheduler's replacement, not a person's. */
const isFailure = (task: StoppedTask) =>
  task.stopCode !== 'ServiceSchedulerInitiated' && task.stopCode !== 'UserInitiated';

const patterns = {
  oom: /OutOfMemory|out of memory|OOM[- ]?Kill|memory limit|Cannot allocate memory|was sent SIGKILL! Perhaps out of memory|Killed process \d+/i,
  /** A worker process of the application died (gunicorn, uWSGI, Puma, Node cluster): the container lives on. */
  workerDied:
    /worker \(pid:?\s*\d+\) (exited|was sent|died)|worker \d+ died|worker .* (killed|exited) (with|by) (code|signal)/i,
  healthCheck: /fail(ed)? (ELB|container|load balancer|target)? ?health ?checks?|unhealthy/i,
  dependency:
    /ECONNREFUSED|connection refused|ETIMEDOUT|timed? ?out (connecting|waiting)|getaddrinfo|ENOTFOUND|no route to host|upstream (connect )?error|503 Service Unavailable|connection reset|ThrottlingException|Rate exceeded|too many connections|remaining connection slots are reserved/i,
  /** A dependency rejecting the service's credential: explicit credential wording only (an access log's 401 is a client's). */
  secret:
    /password authentication failed|authentication failed for user|access denied for user|Login failed for user|invalid (credentials|username or password|password|api key|client secret)|invalid_client|SASL authentication failed|WRONGPASS|NOAUTH Authentication required/i,
  /** The workload cannot parse a secret it was given (malformed value; rotation writes the same shape). */
  secretParse:
    /(secret|credential)s?\b.*(invalid character .* looking for beginning of value|cannot unmarshal|unexpected token .* in JSON|is not valid JSON|JSONDecodeError)/i,
  /** The process is alive but blocked: what a restart clears. */
  hang: /event loop (blocked|lag)|deadlock|WORKER TIMEOUT|thread pool (exhausted|starvation)|not responding|hung thread|stuck (thread|worker)/i,
  config:
    /missing (required )?(env(ironment)?( variable)?|config(uration)?|setting)|is not defined in (the )?environment|undefined (env|config)|invalid config(uration)?|unknown (option|flag)|env var .* (missing|required)|required (env|configuration|setting)|validation (error|failed) for (settings|config)/i,
  crash: /EssentialContainerExited|exited|exit code|segmentation fault|panic|uncaught exception|unhandled/i,
  /** Stopped before the application ran (AWS: stopped task error codes). */
  startFailure:
    /TaskFailedToStart|CannotPullContainerError|CannotStartContainerError|CannotCreateContainerError|ResourceInitializationError|CannotCreateVolumeError/i,
  /** ECS's own stop of a task it replaces, at the start of ECS's stopped reason (AWS: stopped task error codes). */
  platformStop:
    /^(ECS is performing maintenance on the underlying infrastructure|Scaling activity initiated by \(deployment|Host EC2 \(instance [^)]*\) (stopped|terminated)|Container instance deregistration forced)/i,
} as const;

/** Memory over the window: growth is a leak's shape; a plateau at the ceiling is a working set that does not fit. */
export function memoryShape(values: number[]): JudgementFacts['memory'] {
  if (values.length === 0) return null;
  const peak = maxOf(values);
  if (peak < 70) return 'low';
  // A line fitted over the window: a leak rises steadily (garbage collection saws it, the trend stays).
  const n = values.length;
  const xMean = (n - 1) / 2;
  const yMean = mean(values);
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  values.forEach((y, x) => {
    sxy += (x - xMean) * (y - yMean);
    sxx += (x - xMean) ** 2;
    syy += (y - yMean) ** 2;
  });
  const slope = sxx > 0 ? sxy / sxx : 0;
  const r2 = sxx > 0 && syy > 0 ? (sxy * sxy) / (sxx * syy) : 0;
  if (n >= 4 && slope > 0 && r2 >= 0.6 && slope * (n - 1) >= 20 && peak >= 90) return 'growing';
  const atCeiling = values.filter((v) => v >= 90).length;
  if (n >= 3 && atCeiling / n >= 0.7) return 'at_ceiling';
  return 'normal';
}

/** CPU over the window: saturated, or flat/falling (then it is not what limits the service). */
function cpuShape(values: number[]): JudgementFacts['cpu'] {
  if (values.length === 0) return null;
  const c = lastVersusBaseline(values);
  if (c.recent >= 85) return 'high';
  if (c.recent < 70 && (Number.isNaN(c.baseline) || c.recent <= c.baseline * 1.1)) return 'flat_or_falling';
  return 'normal';
}

const risen = (values: number[] | undefined, factor: number) => {
  if (!values || values.length < 4) return false;
  const v = lastVersusBaseline(values);
  return v.baseline > 0 ? v.recent >= factor * v.baseline : v.recent > 0 && v.baseline === 0;
};

/**
 * An error count that stepped up: at least twice its baseline and at least one error a minute. With
 * counts this small, one stray error more in three minutes doubles a near-zero baseline by chance.
 */
const errorsStepUp = (values: number[]) => risen(values, 2) && lastVersusBaseline(values).recent >= 1;

const errorMetrics = ['HTTPCode_Target_5XX_Count', 'HTTPCode_ELB_5XX_Count', 'Errors', 'ErrorCount'];

/**
 * A 137 is SIGKILL (128 + 9). It is an OOM kill only when ECS says so
 * ("OutOfMemoryError: Container killed due to memory usage") or memory was at
 * the limit; otherwise something stopped the container — a stop timeout
 * after SIGTERM was ignored at shutdown (AWS: "stopTimeout" in the task
 * definition parameters), not a failure of the workload.
 */
function isBenignStop(task: StoppedTask, memory: JudgementFacts['memory'], stops: number): boolean {
  // ECS's own stopped reason, first part only: perception appends the container's reason (workload text) after " | ".
  const ecsReason = task.stoppedReason.split(' | ')[0] ?? '';
  if (task.stopCode === 'SpotInterruption' || /^Your Spot Task was interrupted/i.test(ecsReason)) return true;
  if (patterns.platformStop.test(ecsReason)) return true;
  const text = `${task.stoppedReason} ${task.containerReasons.join(' ')}`;
  if (!task.exitCodes.includes(137) || patterns.oom.test(text)) return false;
  // Another container exited with an error: the task failed, whatever was SIGKILLed after it.
  if (task.exitCodes.some((c) => c !== 0 && c !== 137)) return false;
  if (task.stopCode === 'ServiceSchedulerInitiated' || task.stopCode === 'UserInitiated') return true;
  // The essential container exited 0 and a sidecar was killed at shutdown; or one stop with memory known
  // to be low. Unknown memory, or 137s again and again, are not "not OOM".
  return task.exitCodes.includes(0) || (memory === 'low' && stops === 1);
}

/** Every text the rules read, with where ECS wrote it. */
function sourcedTexts(t: ReturnType<typeof texts>): SourcedText[] {
  return [
    ...t.tasks.map((x) => ({ evidenceId: x.id, where: 'task' as const, text: x.text })),
    ...t.events.map((x) => ({ evidenceId: x.id, where: 'event' as const, text: x.text })),
    ...t.signals.map((x) => ({ evidenceId: x.id, where: 'task' as const, text: x.text })),
    ...t.logs.map((x) => ({ evidenceId: x.id, where: 'log' as const, text: x.text })),
  ];
}

interface Analysis {
  candidates: Candidate[];
  judgement: Judgement;
}

/**
 * Every rule's candidates (several may fire, the strongest leads) and the
 * judgement: the mechanism, the facts the effect model reads, the human fix.
 * Signatures from ECS's documented messages come first; the generic rules
 * read only what no signature explained.
 */
export function analyse(inv: Investigation): Analysis {
  const component = inv.incident.service;
  const t = texts(inv);
  const out: Candidate[] = [];
  const add = (
    rootCause: RootCause,
    confidence: number,
    evidenceIds: string[],
    explanation: string,
    mechanism?: Mechanism,
  ) => {
    const ids = [...new Set(evidenceIds.filter(Boolean))];
    if (ids.length > 0)
      out.push({
        rootCause,
        component,
        confidence: Math.min(0.95, confidence),
        evidenceIds: ids,
        explanation,
        ...(mechanism ? { mechanism } : {}),
      });
  };
  const deploy = recentDeployment(inv);
  const rollout = failedRollout(inv);
  const diff = diffOf(inv);
  const deployIds = deploy ? [deploy.id, ...(diff ? [diff.id] : [])] : [];
  const memory = metric(inv, 'MemoryUtilization');
  const memoryPeak = memory ? maxOf(memory.values) : null;
  const shape = memory ? memoryShape(memory.values) : null;
  const cpu = metric(inv, 'CPUUtilization');
  const cpuNow = cpu ? cpuShape(cpu.values) : null;
  const svc = find(inv, 'service')[0];
  const all = stoppedTasks(inv);
  const stops = all.reduce((n, s) => n + s.count, 0);
  const benign = all.filter(({ task }) => isBenignStop(task, shape, stops));
  const failed = all.filter((f) => isFailure(f.task) && !benign.includes(f));
  const revisionChanges = diff ? changesOf(diff.diff) : [];
  // Same artifact, same command: only settings (environment, mounts) changed. The configuration is the suspect.
  const configOnly =
    revisionChanges.length > 0 && revisionChanges.every((c) => c === 'environment' || c === 'mounts');

  // 1. ECS's own messages: the signature catalog.
  const matches = matchSignatures(sourcedTexts(t));
  const claimed = new Set(matches.map((m) => m.text));
  const bySignature = new Map<string, (typeof matches)[number][]>();
  for (const m of matches) bySignature.set(m.signature.id, [...(bySignature.get(m.signature.id) ?? []), m]);
  const placementOver = placementResolved(inv);
  for (const [, group] of bySignature) {
    const sig = group[0]?.signature;
    if (!sig || mechanismSpecs[sig.mechanism].rootCause === 'no_fault') continue;
    // The scheduler placed the tasks after all: the failure was a rolling deploy waiting for room.
    if (sig.mechanism === 'placement_capacity' && placementOver) continue;
    // A 137 with an OOM reason is conclusive; the OOM signature's mechanism still follows the memory shape.
    const mechanism =
      sig.mechanism === 'undersized_memory' && shape === 'growing' ? 'memory_leak' : sig.mechanism;
    add(
      sig.rootCause ?? mechanismSpecs[mechanism].rootCause,
      sig.confidence + (group.length > 1 ? 0.03 : 0),
      [
        ...group.map((m) => m.evidenceId),
        ...(memory && mechanism === 'memory_leak' ? [memory.id] : []),
        ...deployIds,
      ],
      `ECS reports ${mechanismSpecs[mechanism].summary} (${sig.id}, ${group.length}×)`,
      mechanism,
    );
  }
  const unclaimed = (items: { id: string; text: string }[]) => items.filter((i) => !claimed.has(i.text));
  const logs = unclaimed(t.logs);
  const taskTexts = unclaimed(t.tasks);

  // 2. Memory: kills for memory, or memory pinned at the ceiling while processes die.
  const oomTasks = failed.filter(
    ({ task }) =>
      !claimed.has(`${task.stopCode} ${task.stoppedReason} ${task.containerReasons.join(' ')}`) &&
      ((task.exitCodes.includes(137) && (memoryPeak ?? 0) >= 90) ||
        patterns.oom.test(`${task.stoppedReason} ${task.containerReasons.join(' ')}`)),
  );
  const oomLogs = matching(logs, patterns.oom);
  const workerDeaths = matching(logs, patterns.workerDied);
  const memoryMechanism: Mechanism = shape === 'growing' ? 'memory_leak' : 'undersized_memory';
  const memoryIds = memory && (shape === 'growing' || shape === 'at_ceiling') ? [memory.id] : [];
  if (oomTasks.length > 0 || ((shape === 'at_ceiling' || shape === 'growing') && oomLogs.length > 0)) {
    const memoryDown = diff?.diff.memory && (diff.diff.memory.to ?? 0) < (diff.diff.memory.from ?? 0);
    add(
      'oom',
      oomTasks.length > 0 ? 0.85 + (memoryIds.length > 0 ? 0.05 : 0) : 0.75,
      [...oomTasks.map((o) => o.id), ...memoryIds, ...oomLogs, ...(deploy ? deployIds : [])],
      `tasks were killed for memory${shape === 'growing' ? ', memory growing steadily' : shape === 'at_ceiling' ? ', memory at the limit' : ''}${deploy ? `; deployment ${deploy.deployment.taskDefinition} started ${deploy.deployment.minutesBeforeIncident} min before${memoryDown ? ' and lowered memory' : ''}` : ''}`,
      memoryMechanism,
    );
  } else if (
    shape === 'at_ceiling' &&
    memory &&
    (workerDeaths.length > 0 ||
      failed.length > 0 ||
      all.some(({ task }) => patterns.healthCheck.test(task.stoppedReason)))
  ) {
    // Processes die while memory sits at the ceiling: the kernel kills workers (or the task stops
    // answering its health check) before ECS ever records an exit 137.
    add(
      'oom',
      0.8,
      [
        memory.id,
        ...workerDeaths,
        ...failed.map((f) => f.id),
        ...all.filter(({ task }) => patterns.healthCheck.test(task.stoppedReason)).map((f) => f.id),
      ],
      `memory pinned at ${Math.round(memoryPeak ?? 0)}% while ${workerDeaths.length > 0 ? 'worker processes die' : 'tasks stop'}: the working set does not fit`,
      'undersized_memory',
    );
  } else if (
    memory &&
    // Service MemoryUtilization is memory in use over memory reserved: above 100% the tasks run past a
    // soft reservation (memoryReservation, or page cache on EC2) with no hard limit there to kill them.
    // Without kills that is not a memory fault (Amazon ECS service utilization metrics).
    (memoryPeak ?? 0) <= 100 &&
    (shape === 'at_ceiling' || (shape === 'growing' && lastVersusBaseline(memory.values).peak >= 95))
  ) {
    add('oom', 0.55, [memory.id], 'memory utilisation at the limit, no kills seen yet', memoryMechanism);
  }

  // 3. Health checks, dependencies, credentials, configuration: the workload's own words.
  const health = matching([...taskTexts, ...unclaimed(t.events)], patterns.healthCheck);
  const unhealthy = metric(inv, 'UnHealthyHostCount');
  // Unhealthy targets now, not draining back to zero (a rolling deployment deregistering old tasks).
  const unhealthyNow = unhealthy !== null && stillBreaching(inv, 'UnHealthyHostCount');
  const dependency = matching(logs, patterns.dependency);
  const secret = matching([...logs, ...taskTexts], patterns.secret);
  if (health.length > 0 || unhealthyNow) {
    const ids = [...health, ...(unhealthyNow && unhealthy ? [unhealthy.id] : [])];
    if (dependency.length > 0 && secret.length === 0)
      // Health checks fail because a dependency does: the dependency is the cause.
      add(
        'dependency_failure',
        0.8,
        [...dependency, ...ids],
        'tasks fail their health checks while the service cannot reach a dependency',
        'health_check_coupling',
      );
    else {
      const hang = matching(logs, patterns.hang);
      const replaced = all
        .filter(({ task }) => patterns.healthCheck.test(task.stoppedReason))
        .reduce((n, s) => n + s.count, 0);
      const changedByDeploy = deploy !== null && revisionChanges.length > 0;
      if (hang.length > 0)
        add(
          'health_check_failure',
          health.length > 0 ? 0.75 : 0.55,
          [...ids, ...hang],
          'tasks stop answering their health checks while the process reports being blocked',
          'hung_process',
        );
      else
        add(
          'health_check_failure',
          // After a deploy that changed the revision, the deploy leads (its rule gives 0.7).
          changedByDeploy ? 0.6 : health.length > 0 ? 0.7 : 0.55,
          ids,
          replaced >= 2
            ? `${replaced} tasks were replaced for failing health checks: fresh tasks fail them too`
            : 'tasks fail their load balancer or container health checks',
          replaced >= 2 || changedByDeploy ? 'health_check_misconfigured' : 'hung_process',
        );
    }
  }
  const secretParse = matching(logs, patterns.secretParse);
  if (secretParse.length > 0)
    add(
      'config_error',
      0.8,
      secretParse,
      'the service cannot parse a secret it was given',
      'secret_malformed',
    );
  if (secret.length > 0)
    add(
      'secret_invalid',
      0.75 + (diff?.diff.environment.changed.length ? 0.05 : 0),
      secret,
      'authentication with a credential the service holds fails',
      'credentials_rejected',
    );
  if (dependency.length > 0) {
    add(
      'dependency_failure',
      0.75,
      dependency,
      'the service cannot reach a dependency',
      'dependency_unavailable',
    );
    // The dependency came back (the client logged a reconnection after its last error), yet the alarm
    // fires on with the work piling up or the service idle: the consumers never resumed after the
    // reconnect — a fresh task does, and a fallback away from a reachable dependency would not.
    const back = reconnectedAfterErrors(inv);
    const backlog = backlogGrowing(inv);
    if (back && (backlog || cpuNow === 'flat_or_falling'))
      add(
        'dependency_failure',
        0.8,
        [back, ...(backlog ? [backlog] : [])],
        'the dependency is reachable again (the client reconnected after its errors), but the symptom stays while the service idles: its consumers stopped and never resumed',
        'hung_process',
      );
    // Right after a deploy that changed the environment, the new settings (an endpoint, a port) are the suspect.
    if (deploy && diff && revisionChanges.includes('environment'))
      add(
        'config_error',
        0.8,
        [...dependency, ...deployIds],
        `dependency errors began after deploying ${deploy.deployment.taskDefinition}, which changed ${revisionChanges.join(', ')}`,
        'config_change',
      );
  }
  const config = matching([...logs, ...taskTexts], patterns.config);
  if (config.length > 0)
    add(
      'config_error',
      0.8,
      [...config, ...(configOnly && diff ? [diff.id] : []), ...(deploy ? [deploy.id] : [])],
      'the service rejects its configuration',
      deploy && configOnly ? 'config_change' : 'config_missing',
    );

  // 4. Crash loop: tasks exiting non-zero again and again, for no reason the rules above explain
  // (after a recent deployment, the deployment is the reason: see below).
  const crashes = failed.filter(
    ({ task }) =>
      task.exitCodes.some((c) => c !== 0 && c !== 137) ||
      (task.exitCodes.length === 0 &&
        patterns.crash.test(task.stoppedReason) &&
        !patterns.startFailure.test(task.stoppedReason)),
  );
  const crashed = crashes.reduce((n, c) => n + c.count, 0);
  const queueAging = risen(metric(inv, 'ApproximateAgeOfOldestMessage')?.values, 1.5);
  if (crashed >= 2 && !deploy && out.every((c) => c.confidence < 0.7)) {
    const queue = metric(inv, 'ApproximateAgeOfOldestMessage');
    add(
      'crash_loop',
      0.7,
      [
        ...crashes.map((c) => c.id),
        ...(queueAging && queue ? [queue.id] : []),
        ...matching(logs, patterns.crash),
      ],
      queueAging
        ? `${crashed} tasks exited with errors while the oldest queue message keeps aging: one message kills each consumer`
        : `${crashed} tasks exited with errors`,
      queueAging ? 'poison_input' : 'deterministic_crash',
    );
  }

  // 5. A deployment shortly before the first symptom, with failures, new errors or a failed rollout:
  // the change is the cause. Errors that only rose after it count even when older ones were there before.
  const errorSeries = errorMetrics.map((n) => metric(inv, n)).find((m) => m !== null) ?? null;
  const errorsRose = errorSeries ? errorsStepUp(errorSeries.values) : null;
  // An alarm still firing, after a deploy that changed the revision, with nothing else to explain it:
  // the deploy is the only change before the symptom (chronic log noise must not hide it).
  // Only alarms whose symptom has not already subsided: acting on one that is ending changes a service
  // that is recovering (a rolling deployment's unhealthy hosts draining back to zero).
  const firing = firingAlarms(inv).filter((a) => stillBreaching(inv, a.metricName));
  const onlyTheDeploy =
    deploy !== null && revisionChanges.length > 0 && out.length === 0 && firing.length > 0 && !errorsRose;
  if (onlyTheDeploy && deploy)
    add(
      configOnly ? 'config_error' : 'bad_deployment',
      0.6,
      [...deployIds, ...firing.map((f) => f.id)],
      `${firing.map((f) => f.name).join(', ')} fired ${deploy.deployment.minutesBeforeIncident} min after deploying ${deploy.deployment.taskDefinition} (changed ${revisionChanges.join(', ')}), and nothing else explains it`,
      configOnly ? 'config_change' : 'code_regression',
    );
  if (rollout || (deploy && (failed.length > 0 || out.length > 0 || errorsRose))) {
    const already = out.some((c) => c.confidence >= 0.8);
    add(
      configOnly ? 'config_error' : 'bad_deployment',
      rollout ? 0.85 : already ? 0.6 : 0.7,
      [
        ...(rollout ? [rollout.id] : []),
        ...deployIds,
        ...failed.map((f) => f.id),
        ...(errorsRose && errorSeries ? [errorSeries.id] : []),
      ],
      rollout
        ? `deployment ${rollout.deployment.taskDefinition} failed its rollout`
        : `symptoms began ${deploy?.deployment.minutesBeforeIncident} min after deploying ${deploy?.deployment.taskDefinition}${revisionChanges.length > 0 ? ` (changed ${revisionChanges.join(', ')})` : ''}`,
      configOnly ? 'config_change' : 'code_regression',
    );
  }

  // 6. Load: CPU, demand, latency.
  const requests = metric(inv, 'RequestCount');
  const demandSurge = risen(requests?.values, 2);
  if (cpu && cpuNow === 'high' && lastVersusBaseline(cpu.values).recent >= 90)
    add(
      'cpu_saturation',
      0.75,
      [cpu.id, ...(demandSurge && requests ? [requests.id] : [])],
      `CPU at ${Math.round(lastVersusBaseline(cpu.values).recent)}% over the last minutes`,
      'cpu_bound',
    );
  const latency = metric(inv, 'TargetResponseTime');
  const latencyRising = latency ? risen(latency.values, 2) : false;
  if (latency && latencyRising && out.length === 0) {
    const l = lastVersusBaseline(latency.values);
    const errors = metric(inv, 'HTTPCode_Target_5XX_Count');
    const erroring = errors && lastVersusBaseline(errors.values).peak > 0;
    const downstream = cpuNow === 'flat_or_falling';
    add(
      'latency_degradation',
      erroring ? 0.6 : 0.7,
      [latency.id, ...(erroring && errors ? [errors.id] : []), ...(downstream && cpu ? [cpu.id] : [])],
      `response time ${(l.recent / l.baseline).toFixed(1)}× its baseline${downstream ? ' while CPU is flat or falling: the time is spent downstream' : ''}`,
      downstream ? 'downstream_bound' : undefined,
    );
  }

  const candidates = merge(out);
  const top = candidates[0];
  const mechanism =
    top?.mechanism ?? (benign.length > 0 && failed.length === 0 ? benignMechanism(benign) : null);
  const signature = matches.find((m) => m.signature.mechanism === mechanism)?.signature;
  const judgement: Judgement = {
    mechanism,
    evidenceIds: top?.evidenceIds ?? [...new Set(benign.map((b) => b.id))],
    signatures: [...bySignature.values()].map((g) => ({
      id: g[0]?.signature.id ?? '',
      evidenceId: g[0]?.evidenceId ?? '',
      source: g[0]?.signature.source ?? '',
    })),
    facts: {
      startFailure:
        failed.some(({ task }) => patterns.startFailure.test(`${task.stopCode} ${task.stoppedReason}`)) ||
        matches.some((m) => m.where !== 'log' && patterns.startFailure.test(m.text)),
      repeatedCrash: crashed >= 2,
      placementFailure: !placementOver && matches.some((m) => m.signature.mechanism === 'placement_capacity'),
      memory: shape,
      memoryPeak: memoryPeak === null || Number.isNaN(memoryPeak) ? null : memoryPeak,
      cpu: cpuNow,
      latencyRising,
      demandSurge,
      dependencyErrors: dependency.length > 0,
      credentialRejected: secret.length > 0,
      recentDeployment: deploy?.deployment.taskDefinition ?? null,
      failedRollout: rollout !== null,
      revisionChanges,
      errorsRoseAfterDeploy: deploy ? errorsRose : null,
      benignStops: benign.reduce((n, b) => n + b.count, 0),
      failedStops: failed.reduce((n, f) => n + f.count, 0),
      tasksPending: Boolean(
        svc && svc.facts.pendingCount > 0 && svc.facts.runningCount < svc.facts.desiredCount,
      ),
      userErrorsFiring: userErrorsFiring(inv),
    },
    fix: signature?.fix ?? (mechanism ? mechanismSpecs[mechanism].fix : null),
    // What ECS said that nothing explained: quoted to the human an escalation reaches.
    unexplained:
      candidates.length > 0
        ? []
        : [
            ...new Set(
              [...unclaimed(t.tasks), ...unclaimed(t.events)].map((x) => redact(x.text.trim(), 200)),
            ),
          ].slice(0, 3),
  };
  return { candidates, judgement };
}

function benignMechanism(benign: { task: StoppedTask }[]): Mechanism {
  return benign.some(
    ({ task }) =>
      task.stopCode === 'SpotInterruption' || /Spot Task was interrupted/i.test(task.stoppedReason),
  )
    ? 'spot_interruption'
    : 'shutdown_kill';
}

/**
 * The service reached a steady state (or its deployment completed) after its latest placement failure,
 * with every desired task running: during a rolling deployment on a full cluster the scheduler cannot
 * place the new task until an old one stops, says so, then places it (Amazon ECS service event
 * messages: "unable to place a task" then "has reached a steady state"). ECS lists service events
 * newest first; signals carry their time.
 */
function placementResolved(inv: Investigation): boolean {
  const svc = find(inv, 'service')[0];
  if (!svc || svc.facts.runningCount < svc.facts.desiredCount) return false;
  const placement = /was unable to place a task|SERVICE_TASK_PLACEMENT_FAILURE/i;
  const steady = /has reached a steady state|SERVICE_STEADY_STATE|SERVICE_DEPLOYMENT_COMPLETED/i;
  for (const e of find(inv, 'service_events')) {
    const newestPlacement = e.facts.messages.findIndex((m) => placement.test(m));
    const newestSteady = e.facts.messages.findIndex((m) => steady.test(m));
    if (newestPlacement >= 0) return newestSteady >= 0 && newestSteady < newestPlacement;
  }
  const signals = find(inv, 'signals').flatMap((e) => e.facts.signals);
  const latest = (pattern: RegExp) =>
    signals
      .filter((x) => pattern.test(x.name))
      .map((x) => x.occurredAt)
      .sort()
      .at(-1);
  const placed = latest(placement);
  const settled = latest(steady);
  return placed !== undefined && settled !== undefined && settled >= placed;
}

/**
 * A client's words for a connection made again (Celery/Kombu, Redis and AMQP clients, JDBC pools, Node
 * drivers). The logs tool keeps such lines next to the error lines, so a recovery is visible.
 */
export const reconnectionLine =
  /\b(re)?connected to\b|\breconnected\b|connection (re-?)?established|connection restored/i;

/** The logs evidence (lines newest first) where a reconnection is newer than the newest dependency error. */
function reconnectedAfterErrors(inv: Investigation): string | null {
  for (const e of find(inv, 'logs')) {
    const lines = e.facts.lines;
    const newestError = lines.findIndex((l) => patterns.dependency.test(l));
    if (newestError > 0 && lines.slice(0, newestError).some((l) => reconnectionLine.test(l))) return e.id;
  }
  return null;
}

/** A queue or backlog metric (SQS's ApproximateNumberOfMessagesVisible, a broker's queue length, consumer lag) at least doubled. */
function backlogGrowing(inv: Investigation): string | null {
  for (const e of find(inv, 'metrics'))
    for (const [name, values] of Object.entries(e.facts.series))
      if (/Queue|Backlog|MessagesVisible|Lag\b|ConsumerLag/i.test(name) && risen(values, 2)) return e.id;
  return null;
}

/** Alarms whose latest state change (in this incident's signals) is into ALARM, with the metric they watch. */
function firingAlarms(inv: Investigation): { id: string; name: string; metricName: string | null }[] {
  const latest = new Map<
    string,
    { id: string; name: string; metricName: string | null; at: string; fault: boolean }
  >();
  for (const e of find(inv, 'signals'))
    for (const s of e.facts.signals.filter((x) => x.kind === 'alarm')) {
      const seen = latest.get(s.name);
      const metricName = typeof s.attributes.metricName === 'string' ? s.attributes.metricName : null;
      if (!seen || s.occurredAt >= seen.at)
        latest.set(s.name, {
          id: e.id,
          name: s.name,
          metricName,
          at: s.occurredAt,
          fault: s.classification === 'fault',
        });
    }
  return [...latest.values()]
    .filter((a) => a.fault)
    .map(({ id, name, metricName }) => ({ id, name, metricName }));
}

/**
 * Metrics that count failures users see, by AWS's documented names — Application Load Balancer
 * `HTTPCode_ELB_5XX_Count`, `HTTPCode_ELB_502_Count`, `HTTPCode_Target_5XX_Count`,
 * `TargetConnectionErrorCount`, `RejectedConnectionCount`, `UnHealthyHostCount`; API Gateway
 * `5XXError`; Lambda `Errors`; App Runner `5xxStatusResponses` — and application counters named
 * for errors, faults or failures. Load and utilisation metrics (requests, CPU, memory) are not:
 * an alarm on them with every task healthy may be load the service absorbs.
 */
export const userErrorMetric = /5XX|5\d\d|Error|Fault|Fail|UnHealthyHost|Rejected/i;

/**
 * Alarms on user-facing error metrics still in ALARM, as `name (metric)`. Where the metric's series
 * was read, its last minute must still count errors: a series back at zero is a symptom that ended.
 */
function userErrorsFiring(inv: Investigation): string[] {
  return firingAlarms(inv)
    .filter((a) => a.metricName !== null && userErrorMetric.test(a.metricName))
    .filter((a) => stillBreaching(inv, a.metricName))
    .map((a) => `${a.name} (${a.metricName})`);
}

/**
 * Whether an alarm's symptom still stands at the end of its metric's series: not back at zero and not
 * falling (the last minute below the peak of the last three, as a count draining back to normal does).
 * Unknown when the series was not read: then the alarm's own state stands.
 */
function stillBreaching(inv: Investigation, metricName: string | null): boolean {
  const series = metricName ? metric(inv, metricName) : null;
  if (!series) return true;
  const last = series.values.at(-1) ?? 0;
  return last > 0 && last >= maxOf(series.values.slice(-3));
}

/** What a diff changed, as the effect model names it. */
function changesOf(diff: TaskDefinitionDiff): string[] {
  return [
    diff.image && 'image',
    diff.memory && 'memory',
    diff.cpu && 'cpu',
    diff.command && 'command',
    diff.mounts && 'mounts',
    diff.environment.added.length + diff.environment.removed.length + diff.environment.changed.length > 0 &&
      'environment',
  ].filter((c): c is string => typeof c === 'string');
}

/** Every rule's candidates; several may fire, the strongest leads. */
export function preAnalyse(inv: Investigation): Candidate[] {
  return analyse(inv).candidates;
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
        Object.assign(seen, { confidence: c.confidence, explanation: c.explanation, mechanism: c.mechanism });
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
 * What the diagnosis recommends for its leading hypothesis: the actions its
 * mechanism can fix (a recent change that explains the symptom is undone
 * first), else the taxonomy's defaults; escalation last. The planner's
 * effect model still decides which of them may run.
 */
export function recommendedFor(top: Hypothesis, inv: Investigation): CatalogAction[] {
  if (!top.mechanism) return defaultActions(top.rootCause, inv);
  const canFix = mechanismSpecs[top.mechanism].canFix;
  if (canFix.length === 0) return ['escalate'];
  const deployed = recentDeployment(inv) !== null || failedRollout(inv) !== null;
  const ordered = deployed
    ? [
        ...canFix.filter((a) => a === 'rollback_task_definition'),
        ...canFix.filter((a) => a !== 'rollback_task_definition'),
      ]
    : canFix;
  return [...ordered, 'escalate'];
}

/**
 * The offline diagnosis: pre-analysis, nudged by similar past incidents (a
 * close match with the same cause adds confidence; their successful actions
 * come first). With no rule firing, a healthy service is no fault; an
 * unhealthy one is insufficient evidence, which escalates.
 */
export function offlineProposal(inv: Investigation): DiagnosisProposal {
  const { candidates, judgement } = analyse(inv);
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
    const actions = [...new Set([...learned, ...recommendedFor(top, inv)])];
    return {
      hypotheses: candidates.slice(0, 3),
      recommendedActions: actions,
      insufficientEvidence: false,
      judgement,
    };
  }
  const service = find(inv, 'service')[0];
  const healthy =
    service && service.facts.runningCount >= service.facts.desiredCount && service.facts.status === 'ACTIVE';
  // Nothing failed: no stops, or only benign ones (a shutdown SIGKILL, a Spot interruption, ECS's own stops).
  const benignOnly = judgement.facts.benignStops > 0 && judgement.facts.failedStops === 0;
  const firingErrors = judgement.facts.userErrorsFiring;
  if (healthy && judgement.facts.failedStops === 0 && firingErrors.length === 0) {
    const cited = [service.id, ...find(inv, 'metrics').map((m) => m.id)];
    return {
      hypotheses: [
        {
          rootCause: 'no_fault',
          component: inv.incident.service,
          confidence: 0.6,
          evidenceIds: cited,
          explanation: benignOnly
            ? `the service is steady; the stopped tasks were not failures (${judgement.mechanism === 'spot_interruption' ? 'Fargate Spot interruption' : 'a SIGKILL at shutdown or a stop by ECS, not a memory kill'})`
            : 'the service is steady and no evidence points to a fault',
          ...(judgement.mechanism ? { mechanism: judgement.mechanism } : {}),
        },
      ],
      recommendedActions: ['none'],
      insufficientEvidence: false,
      judgement,
    };
  }
  if (firingErrors.length > 0 && !judgement.fix)
    // Every task runs, yet users get errors: the failure is in the requests, not in ECS.
    judgement.fix = `${firingErrors.join(', ')} still firing while ECS shows the service's tasks running: the errors are in the requests, not the tasks. Read the load balancer's access logs (elb_status_code against target_status_code: a 502 with target "-" is the load balancer losing its connection to the target, e.g. an application keep-alive timeout shorter than the load balancer's idle timeout), the application's error logs and its dependencies' error rates`;
  return { hypotheses: [], recommendedActions: ['escalate'], insufficientEvidence: true, judgement };
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
