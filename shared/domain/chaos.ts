/**
 * Chaos as the exam: the experiment catalog, the guardrails every injection
 * passes, and the game-day score. Pure: the chaos use-case gathers the facts,
 * adapters inject and revert.
 */
import type { ServiceRef } from './signal.ts';
import type { RootCause } from './taxonomy.ts';
import { describeWeekly, insideInterval, insideWeekly, type Weekday } from './time-window.ts';

export { type Weekday, weekdays } from './time-window.ts';

export const experimentKinds = [
  'stop_tasks',
  'scale_to',
  'bad_deployment',
  'break_dependency',
  'fis',
] as const;
export type ExperimentKind = (typeof experimentKinds)[number];

export type FisAction = 'cpu_stress' | 'io_stress' | 'network_latency' | 'network_packet_loss';

/** The fault an experiment injects, as configured. */
export type Fault =
  | { kind: 'stop_tasks'; share: number }
  | { kind: 'scale_to'; desiredCount: number }
  | { kind: 'bad_deployment'; fault: 'image' | 'environment' | 'command'; variable: string; value: string }
  | { kind: 'break_dependency'; parameterName: string; badValue: string }
  | { kind: 'fis'; action: FisAction; percentage: number; stopAlarms: string[] };

export interface Experiment {
  name: string;
  target: ServiceRef;
  fault: Fault;
  durationMinutes: number;
  expectedRootCause?: RootCause | undefined;
}

/** When chaos may run (read as time-window.ts reads every weekly window). */
export interface TimeWindow {
  days: Weekday[];
  /** HH:MM; a window whose end is before its start runs past midnight. */
  start: string;
  end: string;
  timezone: string;
}

export interface ChaosGuardrails {
  maxConcurrent: number;
  maxTaskShare: number;
  minHealthyTasks: number;
  maxScaleUpFactor: number;
  windows: TimeWindow[];
  freezes: { from: string; to: string; reason: string }[];
}

export interface ChaosSettings {
  guardrails: ChaosGuardrails;
  revert: { maxAttempts: number; retrySeconds: number };
}

/** What the chaos agent knows about the target and the world when asked to inject. */
export interface TargetFacts {
  killSwitch: { engaged: boolean; reason: string | null };
  /** null: ECS does not know the service. */
  service: {
    optedIn: boolean;
    desiredCount: number;
    runningCount: number;
    /** The deployment's minimum healthy percent (bad deployments roll through it). */
    minimumHealthyPercent: number | null;
  } | null;
  openIncidentId: string | null;
  alarmsInAlarm: string[];
  /** Experiments injected and not yet reverted, on any service. */
  activeExperiments: number;
}

/** The concrete change an allowed experiment makes, decided from the facts. */
export type Injection =
  | { kind: 'stop_tasks'; count: number }
  | { kind: 'scale_to'; from: number; desiredCount: number }
  | { kind: 'bad_deployment'; fault: 'image' | 'environment' | 'command'; variable: string; value: string }
  | { kind: 'break_dependency'; parameterName: string; badValue: string }
  | { kind: 'fis'; action: FisAction; percentage: number };

export const guards = [
  'kill_switch',
  'unknown_target',
  'opt_in',
  'freeze',
  'window',
  'concurrency',
  'open_incident',
  'alarm',
  'blast_radius',
] as const;
export type Guard = (typeof guards)[number];

export type Verdict =
  | { allowed: true; injection: Injection }
  | { allowed: false; guard: Guard; reason: string };

/** The tag a service carries to take part in chaos experiments. */
export const chaosOptInTag = { key: 'homeostat:chaos', value: 'opt-in' } as const;

const refuse = (guard: Guard, reason: string): Verdict => ({ allowed: false, guard, reason });

/**
 * Whether the experiment may run now, and exactly what it would change. The
 * guardrails are checked in a fixed order; the first that refuses names itself.
 */
export function checkGuardrails(
  experiment: Experiment,
  facts: TargetFacts,
  guardrails: ChaosGuardrails,
  now: Date,
): Verdict {
  const target = `${experiment.target.cluster}/${experiment.target.service}`;
  if (facts.killSwitch.engaged)
    return refuse('kill_switch', facts.killSwitch.reason ?? 'the kill switch is engaged: no chaos runs');
  const service = facts.service;
  if (!service) return refuse('unknown_target', `ECS does not know ${target}`);
  if (!service.optedIn)
    return refuse('opt_in', `${target} does not carry the tag ${chaosOptInTag.key}=${chaosOptInTag.value}`);
  const freeze = guardrails.freezes.find((f) => insideInterval(f.from, f.to, now));
  if (freeze) return refuse('freeze', `${freeze.reason} (${freeze.from} to ${freeze.to})`);
  if (guardrails.windows.length > 0 && !guardrails.windows.some((w) => insideWeekly(w, now)))
    return refuse(
      'window',
      `outside the allowed chaos windows (${guardrails.windows.map(describeWeekly).join('; ')})`,
    );
  if (facts.activeExperiments >= guardrails.maxConcurrent)
    return refuse(
      'concurrency',
      `${facts.activeExperiments} experiment(s) already running; at most ${guardrails.maxConcurrent} at once`,
    );
  if (facts.openIncidentId)
    return refuse('open_incident', `${target} already has an open incident (${facts.openIncidentId})`);
  if (facts.alarmsInAlarm.length > 0)
    return refuse('alarm', `alarms of ${target} are in ALARM: ${facts.alarmsInAlarm.join(', ')}`);
  return blastRadius(experiment.fault, service, guardrails, target);
}

function blastRadius(
  fault: Fault,
  service: NonNullable<TargetFacts['service']>,
  g: ChaosGuardrails,
  target: string,
): Verdict {
  const running = service.runningCount;
  const limit = (taken: number, what: string): Verdict | null => {
    if (running - taken < g.minHealthyTasks)
      return refuse(
        'blast_radius',
        `${what} would leave ${running - taken} of ${running} running tasks on ${target}; at least ${g.minHealthyTasks} must stay`,
      );
    if (running > 0 && taken / running > g.maxTaskShare)
      return refuse(
        'blast_radius',
        `${what} would take ${taken} of ${running} tasks (${pct(taken / running)}) on ${target}; the limit is ${pct(g.maxTaskShare)}`,
      );
    return null;
  };
  switch (fault.kind) {
    case 'stop_tasks': {
      if (running === 0) return refuse('blast_radius', `${target} has no running task to stop`);
      const count = Math.max(1, Math.floor(running * fault.share));
      return (
        limit(count, `stopping ${count} task(s)`) ?? {
          allowed: true,
          injection: { kind: 'stop_tasks', count },
        }
      );
    }
    case 'scale_to': {
      const from = service.desiredCount;
      if (fault.desiredCount > Math.max(1, from) * g.maxScaleUpFactor)
        return refuse(
          'blast_radius',
          `scaling ${target} to ${fault.desiredCount} exceeds ${g.maxScaleUpFactor}× its desired count of ${from}`,
        );
      const taken = Math.max(0, Math.min(running, from) - fault.desiredCount);
      return (
        limit(taken, `scaling to ${fault.desiredCount}`) ?? {
          allowed: true,
          injection: { kind: 'scale_to', from, desiredCount: fault.desiredCount },
        }
      );
    }
    case 'bad_deployment': {
      // A rolling deployment replaces at most (100 − minimumHealthyPercent)% of the tasks at once.
      const healthy = service.minimumHealthyPercent ?? 100;
      const share = (100 - healthy) / 100;
      if (share > g.maxTaskShare)
        return refuse(
          'blast_radius',
          `${target} deploys with minimumHealthyPercent ${healthy}: a bad revision could take ${pct(share)} of its tasks; the limit is ${pct(g.maxTaskShare)}`,
        );
      return {
        allowed: true,
        injection: {
          kind: 'bad_deployment',
          fault: fault.fault,
          variable: fault.variable,
          value: fault.value,
        },
      };
    }
    case 'break_dependency':
      return {
        allowed: true,
        injection: { kind: 'break_dependency', parameterName: fault.parameterName, badValue: fault.badValue },
      };
    case 'fis': {
      const taken = Math.ceil((running * fault.percentage) / 100);
      return (
        limit(taken, `${fault.action} on ${fault.percentage}% of the tasks`) ?? {
          allowed: true,
          injection: { kind: 'fis', action: fault.action, percentage: fault.percentage },
        }
      );
    }
  }
}

const pct = (share: number) => `${Math.round(share * 100)}%`;

/** Root causes a correct diagnosis may name for the fault (the first is the fault's own). */
export function expectedRootCauses(experiment: Experiment): RootCause[] {
  if (experiment.expectedRootCause) return [experiment.expectedRootCause];
  const f = experiment.fault;
  switch (f.kind) {
    case 'stop_tasks':
    case 'scale_to':
      return ['capacity_shortfall'];
    case 'bad_deployment':
      return f.fault === 'image'
        ? ['image_pull_failure', 'bad_deployment']
        : f.fault === 'environment'
          ? ['bad_deployment', 'config_error']
          : ['bad_deployment', 'crash_loop'];
    case 'break_dependency':
      return ['dependency_failure', 'config_error'];
    case 'fis':
      return f.action === 'cpu_stress'
        ? ['cpu_saturation']
        : f.action === 'io_stress'
          ? ['latency_degradation', 'cpu_saturation']
          : ['latency_degradation', 'dependency_failure'];
  }
}

/** What scoring knows about one experiment and the incident it caused. */
export interface GameDayFacts {
  injectedAt: Date;
  /** The experiment is over: reverted, or given up on (revert_failed). */
  ended: boolean;
  revertNeeded: boolean | null;
  expected: RootCause[];
  incident: {
    id: string;
    detectedAt: Date;
    state: string;
    terminal: boolean;
    closedAt: Date | null;
    diagnosedRootCause: string | null;
    undoUsed: boolean;
  } | null;
}

export interface GameDayScore {
  incidentId: string | null;
  detected: boolean;
  timeToDetectMs: number | null;
  diagnosedRootCause: string | null;
  diagnosisCorrect: boolean;
  /** Homeostat repaired it and verified the repair (not self-resolved, not escalated). */
  mitigated: boolean;
  timeToMitigateMs: number | null;
  undoUsed: boolean;
  revertNeeded: boolean | null;
  /** 0–100: detected 25, right diagnosis 25, mitigated 30, no undo 10, no revert needed 10. */
  score: number;
  /** No later event can change it: the experiment ended and its incident (if any) closed. */
  final: boolean;
}

export const scoreWeights = { detected: 25, diagnosis: 25, mitigated: 30, noUndo: 10, noRevert: 10 } as const;

export function scoreGameDay(facts: GameDayFacts): GameDayScore {
  const i = facts.incident;
  const since = (at: Date | null) => (at ? Math.max(0, at.getTime() - facts.injectedAt.getTime()) : null);
  const detected = i !== null;
  const diagnosisCorrect =
    i?.diagnosedRootCause != null && (facts.expected as string[]).includes(i.diagnosedRootCause);
  const mitigated = i?.state === 'resolved';
  const undoUsed = i?.undoUsed ?? false;
  const w = scoreWeights;
  const score =
    (detected ? w.detected : 0) +
    (diagnosisCorrect ? w.diagnosis : 0) +
    (mitigated ? w.mitigated : 0) +
    (detected && !undoUsed ? w.noUndo : 0) +
    (facts.ended && facts.revertNeeded === false ? w.noRevert : 0);
  return {
    incidentId: i?.id ?? null,
    detected,
    timeToDetectMs: i ? since(i.detectedAt) : null,
    diagnosedRootCause: i?.diagnosedRootCause ?? null,
    diagnosisCorrect,
    mitigated,
    timeToMitigateMs: mitigated ? since(i?.closedAt ?? null) : null,
    undoUsed,
    revertNeeded: facts.revertNeeded,
    score,
    final: facts.ended && (i === null || i.terminal),
  };
}

/** When the n-th revert retry runs (1-based): the base delay, doubled per attempt, at most an hour. */
export const revertRetryDelayMs = (attempt: number, retrySeconds: number) =>
  Math.min(3_600_000, retrySeconds * 1000 * 2 ** Math.max(0, attempt - 1));

/** One experiment run as reports show it. */
export interface GameDayRecord {
  experimentId: string;
  experiment: string;
  kind: ExperimentKind;
  target: ServiceRef;
  state: string;
  requestedBy: string;
  requestedAt: Date;
  /** Why it was refused (or failed). */
  guard: string | null;
  reason: string | null;
  score: GameDayScore | null;
}

export interface GameDaySummary {
  runs: number;
  refused: number;
  injected: number;
  scored: number;
  meanScore: number | null;
  detectedShare: number | null;
  diagnosedShare: number | null;
  mitigatedShare: number | null;
  revertNeeded: number;
  revertFailed: number;
  timeToDetectP50Ms: number | null;
  timeToMitigateP50Ms: number | null;
}

const median = (values: number[]) => {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};

/** The period's game days in figures: scored experiments only count toward the shares. */
export function summarizeGameDays(records: readonly GameDayRecord[]): GameDaySummary {
  const scores = records.flatMap((r) => (r.score ? [r.score] : []));
  const share = (pick: (s: GameDayScore) => boolean) =>
    scores.length ? scores.filter(pick).length / scores.length : null;
  return {
    runs: records.length,
    refused: records.filter((r) => r.state === 'refused').length,
    injected: records.filter((r) => ['injected', 'reverted', 'revert_failed'].includes(r.state)).length,
    scored: scores.length,
    meanScore: scores.length ? scores.reduce((sum, s) => sum + s.score, 0) / scores.length : null,
    detectedShare: share((s) => s.detected),
    diagnosedShare: share((s) => s.diagnosisCorrect),
    mitigatedShare: share((s) => s.mitigated),
    revertNeeded: scores.filter((s) => s.revertNeeded === true).length,
    revertFailed: records.filter((r) => r.state === 'revert_failed').length,
    timeToDetectP50Ms: median(scores.flatMap((s) => (s.timeToDetectMs === null ? [] : [s.timeToDetectMs]))),
    timeToMitigateP50Ms: median(
      scores.flatMap((s) => (s.timeToMitigateMs === null ? [] : [s.timeToMitigateMs])),
    ),
  };
}
