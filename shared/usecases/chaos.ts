/**
 * The chaos agent's use-cases: run an experiment through the guardrails
 * (refusals audited), inject it (what it changes recorded before each
 * change), schedule its revert, announce it through the outbox; undo a
 * failed or partial injection at once from what was recorded; revert it when
 * due (retried with backoff, escalated when it keeps failing); sweep overdue
 * reverts — and every live experiment while the kill switch is on; score the
 * game day.
 */
import {
  type ChaosSettings,
  checkGuardrails,
  type Experiment,
  expectedRootCauses,
  type GameDayFacts,
  type GameDayScore,
  type Injection,
  revertRetryDelayMs,
  scoreGameDay,
  type TargetFacts,
} from '../domain/chaos.ts';
import { InvalidEventError } from '../domain/errors.ts';
import type { Clock, EventPublisher } from '../domain/ports.ts';
import type { ServiceRef } from '../domain/signal.ts';
import { isScheduledEvent } from '../events/bus-event.ts';
import type { LearningRecordedData } from '../events/catalog.ts';
import {
  type ChaosRevertRequest,
  type ChaosRunRequest,
  chaosCommandSchema,
} from '../events/chaos-commands.ts';
import { detailTypes } from '../events/detail-types.ts';
import { buildEnvelope, type Envelope } from '../events/envelope.ts';
import { describeIssues } from '../events/zod.ts';
import type { ChaosPreState, ChaosRun, InjectionResult, NewRun, RevertResult } from './chaos-ports.ts';
import { publishStored } from './outbox.ts';

export const chaosSource = 'homeostat.chaos';

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface ChaosStore {
  byKey(idempotencyKey: string): Promise<ChaosRun | null>;
  get(id: string): Promise<ChaosRun | null>;
  activeCount(): Promise<number>;
  openIncident(ref: ServiceRef): Promise<string | null>;
  record(
    run: NewRun,
    outcome: { state: 'refused'; guard: string; reason: string } | { state: 'dry_run'; reason: string },
  ): Promise<ChaosRun>;
  reserve(run: NewRun, maxConcurrent: number): Promise<{ reserved: boolean; run: ChaosRun }>;
  /** What an injection in progress is about to change (written before the change). */
  recordPreState(run: ChaosRun, pre: ChaosPreState): Promise<void>;
  /** Injected, with `announce` written to the outbox in the same transaction. */
  markInjected(
    run: ChaosRun,
    pre: ChaosPreState,
    injectedAt: Date,
    revertAt: Date,
    operations: string[],
    announce: Envelope,
  ): Promise<void>;
  /** Failed; `reverted`: what undoing it at once did. */
  markFailed(
    run: ChaosRun,
    reason: string,
    pre: ChaosPreState | null,
    reverted?: RevertResult,
  ): Promise<void>;
  /** A failed or partial injection whose immediate revert failed too: revert_failed, escalated. */
  revertFailedAtOnce(run: ChaosRun, reason: string, pre: ChaosPreState, at: Date): Promise<void>;
  markPublished(envelopeIds: string[]): Promise<void>;
  overdue(before: Date): Promise<ChaosRun[]>;
  /** Every injected experiment (the kill switch reverts them all). */
  live(): Promise<ChaosRun[]>;
  /** FIS experiments of runs since `since` that are not live (failed, interrupted, revert_failed). */
  strayFisExperiments(since: Date): Promise<string[]>;
  interrupted(before: Date): Promise<ChaosRun[]>;
  markReverted(
    run: ChaosRun,
    needed: boolean,
    operations: string[],
    at: Date,
    killSwitch?: string,
  ): Promise<boolean>;
  revertFailed(run: ChaosRun, reason: string, retryAt: Date | null): Promise<void>;
  /** Audits what a sweep under the kill switch did. */
  auditKillSwitch(
    reason: string,
    detail: { reverted: string[]; fisStopped: string[]; fisError: string | null },
  ): Promise<void>;
  gameDayFacts(id: string): Promise<GameDayFacts | null>;
  saveScore(id: string, score: GameDayScore): Promise<boolean>;
}

export interface ChaosInjector {
  target(ref: ServiceRef): Promise<TargetFacts['service']>;
  /** Calls `record` with what it is about to change before each change, so a partial injection can be undone. */
  inject(
    experimentId: string,
    experiment: string,
    ref: ServiceRef,
    injection: Injection,
    record?: (pre: ChaosPreState) => Promise<void>,
  ): Promise<InjectionResult>;
  revert(ref: ServiceRef, injection: Injection, pre: ChaosPreState): Promise<RevertResult>;
  /** Stops a FIS experiment chaos started if it still acts; whether it had to. */
  stopFis(fisExperimentId: string): Promise<boolean>;
}

/** One-time schedules that invoke the chaos agent (its revert, or a retry). */
export interface RevertScheduler {
  schedule(
    name: string,
    input: ChaosRevertRequest,
    at: Date,
    description: string,
  ): Promise<'created' | 'exists'>;
}

export interface ChaosDeps {
  experiments: readonly Experiment[];
  settings: ChaosSettings;
  clock: Clock;
  killSwitch: { read(): Promise<{ engaged: boolean; reason: string | null }> };
  injector: ChaosInjector;
  /** The service's alarms in ALARM (its registered alarm prefixes). */
  alarmsInAlarm(ref: ServiceRef): Promise<string[]>;
  store: ChaosStore;
  scheduler: RevertScheduler;
  bus: EventPublisher;
  newId(): string;
}

/** How long past its revert time an injected experiment counts as overdue for the sweep. */
export const revertGraceMs = 2 * 60_000;

export const revertScheduleName = (experimentId: string, attempt: number) =>
  `homeostat-chaos-revert-${experimentId}-${attempt}`;

export type RunResult =
  | { outcome: 'unknown_experiment'; reason: string; known: string[] }
  | { outcome: 'duplicate'; experimentId: string; state: string }
  | { outcome: 'refused'; experimentId: string; guard: string; reason: string }
  | { outcome: 'dry_run'; experimentId: string; injection: Injection; revertAfterMinutes: number }
  | {
      outcome: 'failed';
      experimentId: string;
      reason: string;
      /** revert_failed: what it changed could not be undone at once (escalated). */
      state: 'failed' | 'revert_failed';
    }
  | {
      outcome: 'injected';
      experimentId: string;
      injection: Injection;
      operations: string[];
      revertAt: string;
      /** chaos.injected went out; false: it waits in the outbox for the relay. */
      published: boolean;
    };

export type RevertOutcome =
  | { outcome: 'unknown'; experimentId: string }
  | { outcome: 'not_live'; experimentId: string; state: string }
  | {
      outcome: 'reverted';
      experimentId: string;
      needed: boolean;
      operations: string[];
      score: GameDayScore | null;
      finalScore: boolean;
    }
  | { outcome: 'revert_retry'; experimentId: string; reason: string; retryAt: string }
  | { outcome: 'revert_failed'; experimentId: string; reason: string };

export type ChaosResult =
  | RunResult
  | RevertOutcome
  | SweepResult
  | { outcome: 'scored'; experimentId: string; score: GameDayScore | null; finalScore: boolean }
  | { outcome: 'ignored'; reason: string };

export interface SweepResult {
  outcome: 'swept';
  reverts: RevertOutcome[];
  /** Set when the kill switch was on: every live experiment was reverted, FIS experiments stopped. */
  killSwitch?: { reason: string; fisStopped: string[]; fisError: string | null };
}

/** Every way the chaos agent is reached: its commands, the sweep rule, learning.recorded. */
export async function handleChaosEvent(event: unknown, deps: ChaosDeps): Promise<ChaosResult> {
  const e = (event ?? {}) as {
    homeostat?: unknown;
    source?: unknown;
    'detail-type'?: unknown;
    detail?: unknown;
  };
  if (isScheduledEvent(event)) return sweepReverts(deps);
  if (e.source === 'homeostat.learn' && e['detail-type'] === detailTypes.learningRecorded) {
    const data = (e.detail as { data?: Partial<LearningRecordedData> } | undefined)?.data;
    if (!data?.chaosExperimentId) return { outcome: 'ignored', reason: 'not caused by a chaos experiment' };
    // Markers from other tools carry their own ids; only this agent's runs (UUIDs) are scored.
    if (!uuid.test(data.chaosExperimentId))
      return {
        outcome: 'ignored',
        reason: `experiment ${data.chaosExperimentId} was not run by Homeostat's chaos agent`,
      };
    return {
      outcome: 'scored',
      experimentId: data.chaosExperimentId,
      ...(await scoreExperiment(data.chaosExperimentId, deps)),
    };
  }
  const parsed = chaosCommandSchema.safeParse(event);
  if (!parsed.success)
    throw new InvalidEventError(
      'not a chaos command, sweep or learning.recorded event',
      describeIssues(parsed.error),
    );
  return parsed.data.homeostat === 'chaos.run'
    ? runExperiment(parsed.data, deps)
    : revertExperiment(parsed.data, deps);
}

/** A valid Scheduler firing time, else the current minute (emulators leave the placeholder as is). */
function firingKey(request: ChaosRunRequest, now: Date): string {
  if (request.requestId) return `${request.experiment}@${request.requestId}`;
  const scheduled = Date.parse(request.scheduledTime ?? '');
  const at = Number.isNaN(scheduled)
    ? new Date(Math.floor(now.getTime() / 60_000) * 60_000)
    : new Date(scheduled);
  return `${request.experiment}@${at.toISOString()}`;
}

export async function runExperiment(request: ChaosRunRequest, deps: ChaosDeps): Promise<RunResult> {
  const experiment = deps.experiments.find((x) => x.name === request.experiment);
  if (!experiment)
    return {
      outcome: 'unknown_experiment',
      reason: `no chaos experiment named ${request.experiment} is configured (context homeostat:chaos)`,
      known: deps.experiments.map((x) => x.name),
    };
  const now = deps.clock.now();
  const key = firingKey(request, now);
  const seen = await deps.store.byKey(key);
  if (seen) return { outcome: 'duplicate', experimentId: seen.id, state: seen.state };

  const ref = experiment.target;
  const [killSwitch, service, openIncidentId, activeExperiments] = await Promise.all([
    deps.killSwitch.read(),
    deps.injector.target(ref),
    deps.store.openIncident(ref),
    deps.store.activeCount(),
  ]);
  const alarmsInAlarm = service ? await deps.alarmsInAlarm(ref) : [];
  const verdict = checkGuardrails(
    experiment,
    { killSwitch, service, openIncidentId, alarmsInAlarm, activeExperiments },
    deps.settings.guardrails,
    now,
  );
  const run: NewRun = {
    id: deps.newId(),
    experiment: experiment.name,
    kind: experiment.fault.kind,
    target: ref,
    requestedBy: request.requestedBy,
    idempotencyKey: key,
    injection: verdict.allowed ? verdict.injection : null,
    expectedRootCauses: expectedRootCauses(experiment),
    durationMinutes: experiment.durationMinutes,
  };
  if (!verdict.allowed) {
    const saved = await deps.store.record(run, {
      state: 'refused',
      guard: verdict.guard,
      reason: verdict.reason,
    });
    return { outcome: 'refused', experimentId: saved.id, guard: verdict.guard, reason: verdict.reason };
  }
  if (request.dryRun) {
    const saved = await deps.store.record(run, { state: 'dry_run', reason: 'dry run: nothing changed' });
    return {
      outcome: 'dry_run',
      experimentId: saved.id,
      injection: verdict.injection,
      revertAfterMinutes: experiment.durationMinutes,
    };
  }
  const reserved = await deps.store.reserve(run, deps.settings.guardrails.maxConcurrent);
  if (!reserved.reserved)
    // Refused by the concurrency check under its lock (this run's row), or another delivery's run.
    return reserved.run.id === run.id
      ? { outcome: 'refused', experimentId: run.id, guard: 'concurrency', reason: reserved.run.reason ?? '' }
      : { outcome: 'duplicate', experimentId: reserved.run.id, state: reserved.run.state };
  return inject(reserved.run, experiment, verdict.injection, deps);
}

async function inject(
  run: ChaosRun,
  experiment: Experiment,
  injection: Injection,
  deps: ChaosDeps,
): Promise<RunResult> {
  let recorded: ChaosPreState | null = null;
  const record = async (pre: ChaosPreState) => {
    await deps.store.recordPreState(run, pre);
    recorded = pre;
  };
  let result: InjectionResult;
  try {
    result = await deps.injector.inject(run.id, experiment.name, experiment.target, injection, record);
  } catch (error) {
    // What it changed before failing was recorded first: undo that.
    return failedRun(run, `injecting failed: ${(error as Error).message}`, injection, recorded, deps);
  }
  const injectedAt = deps.clock.now();
  const revertAt = new Date(injectedAt.getTime() + experiment.durationMinutes * 60_000);
  try {
    await scheduleRevert(run, 1, revertAt, deps);
  } catch (error) {
    // No fault stays in without its revert: undo it now.
    return failedRun(
      run,
      `the revert could not be scheduled (${(error as Error).message})`,
      injection,
      result.preState,
      deps,
    );
  }
  const announce = buildEnvelope({
    type: detailTypes.chaosInjected,
    source: chaosSource,
    time: injectedAt,
    causationId: run.id,
    correlationId: run.id,
    data: {
      experimentId: run.id,
      experiment: experiment.name,
      cluster: experiment.target.cluster,
      service: experiment.target.service,
      parameters: { ...injection },
      revertAt: revertAt.toISOString(),
    },
  });
  await deps.store.markInjected(run, result.preState, injectedAt, revertAt, result.operations, announce);
  return {
    outcome: 'injected',
    experimentId: run.id,
    injection,
    operations: result.operations,
    revertAt: revertAt.toISOString(),
    published: await publishStored({ bus: deps.bus, outbox: deps.store }, [announce]),
  };
}

/**
 * Undoes at once whatever a failed injection changed, from what it recorded
 * before changing it. A revert that fails too leaves the run revert_failed
 * (the self-alarm's metric): a person must look.
 */
async function revertAtOnce(
  run: ChaosRun,
  reason: string,
  injection: Injection,
  pre: ChaosPreState | null,
  deps: ChaosDeps,
): Promise<{ state: 'failed' | 'revert_failed'; reason: string; reverted: RevertResult | null }> {
  if (!pre) {
    // Nothing was recorded, so nothing was changed: each change is recorded before it is made.
    await deps.store.markFailed(run, reason, null);
    return { state: 'failed', reason, reverted: null };
  }
  try {
    const reverted = await deps.injector.revert(run.target, injection, pre);
    const why = `${reason}: reverted at once (${reverted.operations.join('; ')})`;
    await deps.store.markFailed(run, why, pre, reverted);
    return { state: 'failed', reason: why, reverted };
  } catch (error) {
    const why = `${reason}; reverting it at once failed too: ${(error as Error).message}`;
    await deps.store.revertFailedAtOnce(run, why, pre, deps.clock.now());
    return { state: 'revert_failed', reason: why, reverted: null };
  }
}

async function failedRun(
  run: ChaosRun,
  reason: string,
  injection: Injection,
  pre: ChaosPreState | null,
  deps: ChaosDeps,
): Promise<RunResult> {
  const undone = await revertAtOnce(run, reason, injection, pre, deps);
  return { outcome: 'failed', experimentId: run.id, reason: undone.reason, state: undone.state };
}

/** The one-time schedule that fires the run's revert (attempt 1) or a retry of it. */
function scheduleRevert(run: ChaosRun, attempt: number, at: Date, deps: ChaosDeps) {
  const retry = attempt > 1 ? `, attempt ${attempt}` : '';
  return deps.scheduler.schedule(
    revertScheduleName(run.id, attempt),
    { homeostat: 'chaos.revert', experimentId: run.id },
    at,
    `Homeostat: revert chaos experiment ${run.experiment} (${run.id})${retry}`,
  );
}

/** Reverts a live experiment; `killSwitch`: why the kill switch reverts it before its time. */
export async function revertExperiment(
  request: ChaosRevertRequest,
  deps: ChaosDeps,
  killSwitch?: string,
): Promise<RevertOutcome> {
  const run = await deps.store.get(request.experimentId);
  if (!run) return { outcome: 'unknown', experimentId: request.experimentId };
  if (run.state !== 'injected' || !run.injection || !run.preState)
    return { outcome: 'not_live', experimentId: run.id, state: run.state };
  let result: RevertResult;
  try {
    result = await deps.injector.revert(run.target, run.injection, run.preState);
  } catch (error) {
    return revertFailed(run, (error as Error).message, deps);
  }
  await deps.store.markReverted(run, result.needed, result.operations, deps.clock.now(), killSwitch);
  const scored = await scoreExperiment(run.id, deps);
  return {
    outcome: 'reverted',
    experimentId: run.id,
    needed: result.needed,
    operations: result.operations,
    ...scored,
  };
}

async function revertFailed(run: ChaosRun, message: string, deps: ChaosDeps): Promise<RevertOutcome> {
  const attempt = run.revertAttempts + 1;
  const reason = `revert attempt ${attempt} failed: ${message}`;
  if (attempt >= deps.settings.revert.maxAttempts) {
    await deps.store.revertFailed(run, reason, null);
    await scoreExperiment(run.id, deps);
    return { outcome: 'revert_failed', experimentId: run.id, reason };
  }
  const retryAt = new Date(
    deps.clock.now().getTime() + revertRetryDelayMs(attempt, deps.settings.revert.retrySeconds),
  );
  await deps.store.revertFailed(run, reason, retryAt);
  // Should this schedule fail too, the sweep finds the run overdue at retryAt.
  await scheduleRevert(run, attempt + 1, retryAt, deps).catch(() => {});
  return { outcome: 'revert_retry', experimentId: run.id, reason, retryAt: retryAt.toISOString() };
}

/** FIS ends an experiment after 12 hours at most: older ones need no stopping. */
const fisMaxDurationMs = 12 * 3_600_000;

/** An injection takes seconds; one still unfinished after this was interrupted (a timeout, a crash). */
export const interruptedAfterMs = 10 * 60_000;

/**
 * The safety net under the schedules: reverts every experiment whose revert
 * is overdue, and undoes any run interrupted mid-injection from what it
 * recorded (a run that recorded nothing changed nothing, but is escalated so
 * a person looks). While the kill switch is on it reverts every live
 * experiment, whatever its revert time, and stops every FIS experiment
 * Homeostat started.
 */
export async function sweepReverts(deps: ChaosDeps): Promise<SweepResult> {
  const now = deps.clock.now().getTime();
  const killSwitch = await deps.killSwitch.read();
  const reverts: RevertOutcome[] = [];
  for (const run of await deps.store.interrupted(new Date(now - interruptedAfterMs))) {
    const reason = `interrupted while injecting ${run.kind} on ${run.target.cluster}/${run.target.service}`;
    if (!run.preState || !run.injection) {
      await deps.store.markFailed(run, `${reason}: check the service by hand`, null);
      reverts.push({
        outcome: 'revert_failed',
        experimentId: run.id,
        reason: `${reason}: check the service by hand`,
      });
      continue;
    }
    const undone = await revertAtOnce(run, reason, run.injection, run.preState, deps);
    reverts.push(
      undone.reverted
        ? {
            outcome: 'reverted',
            experimentId: run.id,
            needed: undone.reverted.needed,
            operations: undone.reverted.operations,
            score: null,
            finalScore: false,
          }
        : { outcome: 'revert_failed', experimentId: run.id, reason: undone.reason },
    );
  }
  if (!killSwitch.engaged) {
    for (const run of await deps.store.overdue(new Date(now - revertGraceMs)))
      reverts.push(await revertExperiment({ homeostat: 'chaos.revert', experimentId: run.id }, deps));
    return { outcome: 'swept', reverts };
  }
  const reason = killSwitch.reason ?? 'the kill switch is engaged';
  for (const run of await deps.store.live())
    reverts.push(await revertExperiment({ homeostat: 'chaos.revert', experimentId: run.id }, deps, reason));
  // Live FIS runs were stopped by their revert; these are the ones no live run accounts for.
  const fisStopped: string[] = [];
  const fisErrors: string[] = [];
  for (const id of await deps.store.strayFisExperiments(new Date(now - fisMaxDurationMs))) {
    try {
      if (await deps.injector.stopFis(id)) fisStopped.push(id);
    } catch (error) {
      fisErrors.push(`${id}: ${(error as Error).message}`);
    }
  }
  const fisError = fisErrors.length ? `stopping FIS experiments failed: ${fisErrors.join('; ')}` : null;
  const reverted = reverts.filter((r) => r.outcome === 'reverted').map((r) => r.experimentId);
  if (reverts.length > 0 || fisStopped.length > 0 || fisError)
    await deps.store.auditKillSwitch(reason, { reverted, fisStopped, fisError });
  return { outcome: 'swept', reverts, killSwitch: { reason, fisStopped, fisError } };
}

/** (Re)computes the experiment's game-day score until it is final. */
export async function scoreExperiment(
  experimentId: string,
  deps: Pick<ChaosDeps, 'store'>,
): Promise<{ score: GameDayScore | null; finalScore: boolean }> {
  const facts = await deps.store.gameDayFacts(experimentId);
  if (!facts) return { score: null, finalScore: false };
  const score = scoreGameDay(facts);
  const finalScore = await deps.store.saveScore(experimentId, score);
  return { score, finalScore };
}
