/**
 * The sweep (the verify agent, once a minute): nothing stays wedged. It finds
 * and mends what no event will move on any more — a lost event, an agent's
 * retries exhausted, a schedule that was never created:
 *
 * - a step left `executing` past its deadline: undone from its snapshot when
 *   the service still holds what the action meant to set (never over a
 *   change someone else made), then escalated;
 * - a verification check overdue (its schedule never fired): run now;
 * - an incident with no progress past its deadline and nothing in flight:
 *   escalated with what a human should look at, releasing the service's
 *   live-incident slot and lease;
 * - approvals past expiry (approve.ts: expired, lease released, escalated),
 *   and outbox rows unpublished for a minute (the relay), through their own
 *   modules.
 *
 * Every repair goes through the remediation store's guarded commit, so a
 * sweep racing an agent (or another sweep) changes nothing twice.
 */
import type { ServiceRef } from '../domain/signal.ts';
import { verificationDue } from './act.ts';
import { expireApprovals } from './approve.ts';
import { publishPending, stepEscalation } from './remediation-context.ts';
import { abandonStep } from './undo.ts';
import { type VerifyDeps, type VerifyResult, verifyAction, verifySource } from './verify.ts';

export interface StalledIncident {
  incidentId: string;
  service: ServiceRef;
  state: 'open' | 'diagnosing' | 'planned' | 'awaiting_approval' | 'acting' | 'verifying';
  /** The last progress: a state change or a step update. */
  since: Date;
}

/** Read-only queries for work nothing will move on; each returns at most `limit` rows, oldest first. */
export interface SweepStore {
  /** Keys of steps `executing` since before `before`. */
  abandonedSteps(before: Date, limit: number): Promise<string[]>;
  /** Keys of executed (or dry-run) steps of live incidents whose next check was due before `before`. */
  overdueChecks(before: Date, limit: number): Promise<string[]>;
  /**
   * Live incidents with no progress since `before` (a state change, a step update, an approval decided),
   * no step in flight and no approval request still waiting for a person.
   */
  stalledIncidents(before: Date, limit: number): Promise<StalledIncident[]>;
}

export interface SweepDeps extends VerifyDeps {
  sweepStore: SweepStore;
  /** Outbox rows unpublished for a minute: published and marked. Returns how many went out. */
  republish(now: Date): Promise<number>;
}

export type RepairKind = 'abandoned_step' | 'overdue_check' | 'stalled_incident';

export interface Repair {
  kind: RepairKind;
  incidentId: string;
  /** What was done, in words (the escalation reason, the check's outcome). */
  detail: string;
}

export interface SweepResult {
  outcome: 'swept';
  repairs: Repair[];
  approvalsExpired: number;
  republished: number;
  /** Repairs that failed this time (retried by the next sweep), with the error. */
  failures: { what: string; error: string }[];
}

/** Rows looked at per kind and sweep: a backlog drains over several sweeps instead of timing one out. */
const batch = 10;

export async function sweep(deps: SweepDeps): Promise<SweepResult> {
  const now = deps.clock.now();
  const s = deps.settings.sweep;
  const ago = (ms: number) => new Date(now.getTime() - ms);
  const result: SweepResult = {
    outcome: 'swept',
    repairs: [],
    approvalsExpired: 0,
    republished: 0,
    failures: [],
  };
  const attempt = async <T>(what: string, run: () => Promise<T>): Promise<T | null> => {
    try {
      return await run();
    } catch (error) {
      result.failures.push({ what, error: (error as Error).message });
      return null;
    }
  };
  for (const key of await deps.sweepStore.abandonedSteps(ago(s.abandonedStepMs), batch)) {
    const repair = await attempt(`abandoned step ${key}`, () => abandonedStep(key, deps));
    if (repair) result.repairs.push(repair);
  }
  for (const key of await deps.sweepStore.overdueChecks(ago(s.overdueCheckMs), batch)) {
    const repair = await attempt(`overdue check of ${key}`, () => overdueCheck(key, deps));
    if (repair) result.repairs.push(repair);
  }
  for (const stalled of await deps.sweepStore.stalledIncidents(ago(s.stalledIncidentMs), batch)) {
    const repair = await attempt(`stalled incident ${stalled.incidentId}`, () =>
      stalledIncident(stalled, deps),
    );
    if (repair) result.repairs.push(repair);
  }
  result.approvalsExpired =
    (await attempt('approval expiry', async () => (await expireApprovals(deps, now)).length)) ?? 0;
  result.republished = (await attempt('outbox relay', () => deps.republish(now))) ?? 0;
  return result;
}

/** A step the act agent started and never finished: undo what it may have done, hand it to humans. */
async function abandonedStep(key: string, deps: SweepDeps): Promise<Repair | null> {
  const step = await deps.store.step(key);
  if (step?.status !== 'executing') return null;
  const reason = await abandonStep(step, verifySource, deps);
  return reason ? { kind: 'abandoned_step', incidentId: step.incidentId, detail: reason } : null;
}

/**
 * A check whose schedule never fired (or was never created): run it now, as the schedule would have.
 * A check still overdue after the stalled-incident deadline keeps failing (the service cannot be read):
 * the incident goes to humans instead of holding its service for good.
 */
async function overdueCheck(key: string, deps: SweepDeps): Promise<Repair | null> {
  const step = await deps.store.step(key);
  if (!step || !(step.status === 'executed' || step.status === 'dry_run')) return null;
  const now = deps.clock.now();
  const lateMs = now.getTime() - (step.verifyAt ?? now).getTime();
  if (lateMs > deps.settings.sweep.stalledIncidentMs) {
    const reason = `${step.action} (step ${step.step}) could not be verified for ${Math.round(lateMs / 60_000)} min: its checks keep failing (see the verify agent's logs). Check ${step.service.cluster}/${step.service.service} yourself; undo by hand if it is not better.`;
    const causationId = `sweep:${key}:unverified`;
    const committed = await deps.store.commit({
      incidentId: step.incidentId,
      at: now,
      causationId,
      moveStep: {
        key,
        from: [step.status],
        to: step.status === 'dry_run' ? 'dry_run' : 'failed',
        fields: { verifiedAt: now, detail: { unverified: reason } },
      },
      incidentPath: ['escalated'],
      releaseLease: true,
      audit: [
        {
          actor: verifySource,
          action: 'sweep.unverified',
          inputs: { key, action: step.action },
          result: 'escalated',
          detail: { reason },
        },
      ],
      timeline: [{ kind: 'sweep:unverified', detail: { step: step.step, reason } }],
      envelopes: [stepEscalation(step, verifySource, causationId, reason, now)],
    });
    await publishPending(deps, causationId);
    return committed === 'committed'
      ? { kind: 'overdue_check', incidentId: step.incidentId, detail: reason }
      : null;
  }
  const check = step.checks + 1;
  const due = verificationDue(step, check, deps.clock.now(), `sweep:${key}`, verifySource);
  const verified: VerifyResult = await verifyAction(
    { source: due.source, 'detail-type': due.type, detail: due },
    deps,
  );
  if (verified.outcome === 'skipped') return null;
  return {
    kind: 'overdue_check',
    incidentId: step.incidentId,
    detail: `check ${check} of ${step.action} ran late (its schedule never fired): ${verified.outcome}`,
  };
}

const stalledHint: Record<StalledIncident['state'], string> = {
  open: 'the diagnosis never started (see the diagnose agent’s dead-letter queue)',
  diagnosing: 'the diagnosis never completed (see the diagnose agent’s dead-letter queue)',
  planned: 'the planned action was never carried out (see the act agent’s dead-letter queue)',
  awaiting_approval: 'the approved action was never carried out (see the act agent’s dead-letter queue)',
  acting: 'the action never reported back (see the act agent’s dead-letter queue)',
  verifying: 'no next step was planned after the last one ended (see the plan agent’s dead-letter queue)',
};

/** An incident nothing moves on: escalate it, so it stops holding its service's slot and lease. */
async function stalledIncident(stalled: StalledIncident, deps: SweepDeps): Promise<Repair | null> {
  const now = deps.clock.now();
  const minutes = Math.round((now.getTime() - stalled.since.getTime()) / 60_000);
  const reason =
    `no progress for ${minutes} min while ${stalled.state}: ${stalledHint[stalled.state]}. ` +
    `Homeostat has stopped working on it; look at ${stalled.service.cluster}/${stalled.service.service} yourself.`;
  const causationId = `sweep:${stalled.incidentId}:stalled`;
  const committed = await deps.store.commit({
    incidentId: stalled.incidentId,
    at: now,
    causationId,
    incidentFrom: [stalled.state],
    incidentPath: ['escalated'],
    releaseLease: true,
    audit: [
      {
        actor: verifySource,
        action: 'sweep.stalled_incident',
        inputs: { incidentId: stalled.incidentId, state: stalled.state },
        result: 'escalated',
        detail: { reason, since: stalled.since.toISOString() },
      },
    ],
    timeline: [{ kind: 'sweep:stalled', detail: { state: stalled.state, reason } }],
    envelopes: [
      stepEscalation(
        { incidentId: stalled.incidentId, service: stalled.service },
        verifySource,
        causationId,
        reason,
        now,
      ),
    ],
  });
  await publishPending(deps, causationId);
  return committed === 'committed'
    ? { kind: 'stalled_incident', incidentId: stalled.incidentId, detail: reason }
    : null;
}
