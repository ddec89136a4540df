import { randomUUID } from 'node:crypto';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { DescribeServicesCommand, ECSClient, UpdateServiceCommand } from '@aws-sdk/client-ecs';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SSMClient } from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createEcsService,
  emulatorClientConfig,
  putAlarmInState,
  startMigratedDatabase,
  type TestDatabase,
  uniqueName,
} from '../../localstack/testing.ts';
import { createCloudWatchMetricsClient } from '../adapters/cloudwatch.ts';
import { EcsRemediator } from '../adapters/ecs-remediator.ts';
import { SsmKillSwitch } from '../adapters/kill-switch.ts';
import { republishStale } from '../adapters/outbox-relay.ts';
import { PostgresPerceptionStore } from '../adapters/perception-store.ts';
import { PostgresRemediationStore } from '../adapters/remediation-store.ts';
import { ServiceHealthReader } from '../adapters/service-health.ts';
import { ServiceStateReader } from '../adapters/service-state.ts';
import { PostgresSweepStore } from '../adapters/sweep-store.ts';
import { verificationScheduleName } from '../adapters/verification-scheduler.ts';
import { parseRemediationConfig, remediationSettings } from '../config/remediation.ts';
import type { Operation } from '../domain/remediation.ts';
import type { ServiceRef } from '../domain/signal.ts';
import { detailTypes } from '../events/detail-types.ts';
import type { Envelope } from '../events/envelope.ts';
import { FakeBus, watched } from '../testing/fakes.ts';
import { asBusEvent } from '../testing/incidents.ts';
import { diagnosisCompletedEvent, offlineHypothesis } from '../testing/remediation.ts';
import { type ActDeps, executeAction } from './act.ts';
import { decideApproval } from './approve.ts';
import { planRemediation } from './plan.ts';
import { type SweepDeps, sweep } from './sweep.ts';

/**
 * The sweep on real parts (the emulator's ECS, CloudWatch and SSM; PGlite):
 * each test wedges the loop the way production does — an act agent that
 * dies after acting, a CreateSchedule that fails, an event that never
 * comes — and checks the sweep ends it: terminal or progressing, no double
 * action, the audit trail complete.
 */
describe('sweep', () => {
  let database: TestDatabase;
  let store: PostgresRemediationStore;
  let registry: PostgresPerceptionStore;
  const config = emulatorClientConfig();
  const ecs = new ECSClient(config);
  const ssm = new SSMClient(config);
  const cloudwatch = new CloudWatchClient(config);
  const cluster = uniqueName('sweep');
  const minutes = 60_000;
  let now = new Date();
  const clock = { now: () => now };

  beforeAll(async () => {
    database = await startMigratedDatabase();
    store = new PostgresRemediationStore(database.pool);
    registry = new PostgresPerceptionStore(database.pool, {}, 0);
  });
  afterAll(async () => database?.stop());

  const desired = async (service: string) =>
    (await ecs.send(new DescribeServicesCommand({ cluster, services: [service] }))).services?.[0]
      ?.desiredCount;
  const incidentRow = async (id: string) =>
    (await database.pool.query('SELECT state, closed_at FROM incidents WHERE id = $1', [id])).rows[0] as {
      state: string;
    };
  const audit = async (id: string) =>
    (
      await database.pool.query('SELECT action, result FROM audit_log WHERE incident_id = $1 ORDER BY id', [
        id,
      ])
    ).rows.map((r) => `${r.action} ${r.result}`);
  const lease = async (service: string) =>
    (
      await database.pool.query(
        'SELECT incident_id FROM remediation_leases WHERE cluster = $1 AND service = $2',
        [cluster, service],
      )
    ).rows[0]?.incident_id ?? null;

  const putAlarm = (name: string, state: 'ALARM' | 'OK') => putAlarmInState(cloudwatch, name, state);

  /** A watched service (3 tasks, its errors alarm in ALARM) with an incident diagnosed as a capacity shortfall. */
  async function world(
    service: string,
    options: { remediator?: EcsRemediator; failSchedule?: boolean; autonomy?: 'auto' | 'approve' } = {},
  ) {
    now = new Date();
    const ref: ServiceRef = { cluster, service };
    await createEcsService(ecs, cluster, service, 3);
    const prefix = `homeostat-${cluster}-${service}-`;
    await putAlarm(`${prefix}errors`, 'ALARM');
    await registry.registerService({
      ...watched(cluster, service, [prefix]),
      minTasks: 1,
      maxTasks: 8,
      autonomy: { default: options.autonomy ?? 'auto' },
    });
    const incidentId = randomUUID();
    const at = now.toISOString();
    await database.pool.query(
      `INSERT INTO incidents (id, cluster, service, state, title, fingerprint, opened_at, updated_at, last_signal_at)
       VALUES ($1, $2, $3, 'diagnosing', 'capacity', $4, $5, $5, $5)`,
      [incidentId, cluster, service, `fp-${cluster}-${service}`, at],
    );
    await database.pool.query(
      `INSERT INTO diagnoses (incident_id, provider, model, hypotheses, recommended_actions, insufficient_evidence,
                              evidence, steps, input_tokens, output_tokens, cost_usd, started_at, completed_at)
       VALUES ($1, 'offline', NULL, $2, '{scale_out}', false, '[]', 0, 0, 0, 0, $3, $3)`,
      [incidentId, JSON.stringify([offlineHypothesis('capacity_shortfall', service)]), at],
    );
    const bus = new FakeBus();
    const scheduled: { name: string; envelope: Envelope; at: Date }[] = [];
    const remediator = options.remediator ?? new EcsRemediator(ecs, ssm, new SecretsManagerClient(config));
    const deps: SweepDeps & ActDeps = {
      store,
      registry,
      serviceState: new ServiceStateReader(ecs, registry, (r, running) => store.lastKnownGood(r, running, 0)),
      killSwitch: new SsmKillSwitch(ssm, `/homeostat-test/${cluster}/kill-switch`, 0),
      settings: remediationSettings(parseRemediationConfig({ maxChecks: 2 })),
      bus,
      clock,
      remediator,
      health: new ServiceHealthReader(ecs, createCloudWatchMetricsClient(config), async () => [prefix]),
      scheduler: {
        async schedule(name, envelope, when) {
          if (options.failSchedule) throw new Error('CreateSchedule: ServiceUnavailable');
          scheduled.push({ name, envelope, at: when });
          return 'created';
        },
      },
      scheduleName: verificationScheduleName,
      sweepStore: new PostgresSweepStore(database.pool),
      republish: async () => 0,
    };
    const plan = () =>
      planRemediation(
        asBusEvent(
          diagnosisCompletedEvent({
            incidentId,
            cluster,
            service,
            rootCause: 'capacity_shortfall',
            actions: ['scale_out'],
            at: now,
          }),
        ),
        { ...deps, knowledge: async () => ({ solutions: [], runbookActions: [] }), approvals: noApprovals },
      );
    const act = () => {
      const approved = bus.published.filter((e) => e.type === detailTypes.planApproved).at(-1);
      if (!approved) throw new Error('nothing planned');
      return executeAction(asBusEvent(approved), deps);
    };
    return { ref, prefix, incidentId, bus, deps, scheduled, plan, act };
  }

  const noApprovals = {
    secret: async () => 'an-approval-signing-key-of-at-least-32-bytes',
    baseUrl: null,
    newNonce: randomUUID,
  };

  /** ECS carries the operations out, then the function dies (a timeout, an out-of-memory kill). */
  const diesAfterActing = () => {
    const real = new EcsRemediator(ecs, ssm, new SecretsManagerClient(config));
    return Object.assign(Object.create(real) as EcsRemediator, {
      async apply(ref: ServiceRef, operations: readonly Operation[]) {
        await real.apply(ref, operations);
        throw new Error('Task timed out after 120.00 seconds');
      },
    });
  };

  it('escalates a step its act agent abandoned after acting, leaving the service as it is with how to undo it', async () => {
    const w = await world('abandoned', { remediator: diesAfterActing() });
    await w.plan();
    await expect(w.act()).rejects.toThrow(/timed out/);
    expect(await desired('abandoned')).toBe(5);
    // Before the deadline the sweep leaves it alone: the act agent may still be at work.
    now = new Date(Date.now() + 2 * minutes);
    expect((await sweep(w.deps)).repairs.filter((r) => r.incidentId === w.incidentId)).toEqual([]);

    now = new Date(Date.now() + 6 * minutes);
    w.deps.remediator = new EcsRemediator(ecs, ssm, new SecretsManagerClient(config));
    const swept = await sweep(w.deps);
    expect(swept.repairs.filter((r) => r.incidentId === w.incidentId)).toEqual([
      {
        kind: 'abandoned_step',
        incidentId: w.incidentId,
        detail: expect.stringContaining('left as is (to undo it by hand: set the desired count back to 3)'),
      },
    ]);
    expect(await desired('abandoned')).toBe(5); // never undone on a guess
    expect((await incidentRow(w.incidentId)).state).toBe('escalated');
    expect(await lease('abandoned')).toBeNull();
    expect(w.bus.published.filter((e) => e.type === detailTypes.incidentEscalated)).toHaveLength(1);
    // A second sweep finds nothing left to do: no second undo.
    expect((await sweep(w.deps)).repairs.filter((r) => r.incidentId === w.incidentId)).toEqual([]);
    expect(await audit(w.incidentId)).toEqual([
      'policy.decision auto:scale_out',
      'action.started started',
      'action.abandoned escalated',
    ]);
  });

  it('a retried act delivery finds its step abandoned: waits before the deadline, then ends it as the sweep would', async () => {
    const w = await world('retried', { remediator: diesAfterActing() });
    await w.plan();
    await expect(w.act()).rejects.toThrow(/timed out/);
    w.deps.remediator = new EcsRemediator(ecs, ssm, new SecretsManagerClient(config));
    // Lambda's retry a minute later: another attempt may still be at work, so it neither acts nor undoes.
    now = new Date(Date.now() + minutes);
    await expect(w.act()).rejects.toThrow(/being carried out by another delivery/);
    expect(await desired('retried')).toBe(5);
    // The rule's retry after the deadline: undone (the service holds what the action set) and escalated.
    now = new Date(Date.now() + 6 * minutes);
    expect(await w.act()).toMatchObject({
      outcome: 'escalated',
      reason: expect.stringContaining('left as is'),
    });
    expect(await desired('retried')).toBe(5);
    expect((await incidentRow(w.incidentId)).state).toBe('escalated');
    expect(await w.act()).toMatchObject({ outcome: 'skipped' }); // and once only
    expect(await desired('retried')).toBe(5);
  });

  it('a database connection dropped after acting: no second action on redelivery; the sweep ends it', async () => {
    const w = await world('dbdrop');
    await w.plan();
    // The connection drops when act records the step executed (after ECS changed the service).
    const real = w.deps.store;
    w.deps.store = Object.assign(Object.create(real) as PostgresRemediationStore, {
      commit: async (change: Parameters<PostgresRemediationStore['commit']>[0]) => {
        if (change.moveStep?.to === 'executed')
          throw Object.assign(new Error('Connection terminated unexpectedly'), { code: '57P01' });
        return real.commit(change);
      },
    });
    await expect(w.act()).rejects.toThrow(/Connection terminated/);
    w.deps.store = real;
    expect(await desired('dbdrop')).toBe(5);
    // Lambda retries at once: the step is executing, so nothing acts again.
    await expect(w.act()).rejects.toThrow(/being carried out by another delivery/);
    expect(await desired('dbdrop')).toBe(5);
    now = new Date(Date.now() + 6 * minutes);
    const [repair] = (await sweep(w.deps)).repairs.filter((r) => r.incidentId === w.incidentId);
    expect(repair?.kind).toBe('abandoned_step');
    expect((await incidentRow(w.incidentId)).state).toBe('escalated');
    expect(await audit(w.incidentId)).toEqual([
      'policy.decision auto:scale_out',
      'action.started started',
      'action.abandoned escalated',
    ]);
  });

  it('says so in the escalation when a person changed the service after an abandoned step', async () => {
    const w = await world('abandoned-human', { remediator: diesAfterActing() });
    await w.plan();
    await expect(w.act()).rejects.toThrow(/timed out/);
    await ecs.send(new UpdateServiceCommand({ cluster, service: 'abandoned-human', desiredCount: 7 }));
    now = new Date(Date.now() + 6 * minutes);
    const [repair] = (await sweep(w.deps)).repairs.filter((r) => r.incidentId === w.incidentId);
    expect(repair?.detail).toContain('someone else changed it, and it is left as is');
    expect(await desired('abandoned-human')).toBe(7);
    expect((await incidentRow(w.incidentId)).state).toBe('escalated');
  });

  it('runs a verification check whose schedule was never created', async () => {
    const w = await world('unscheduled', { failSchedule: true });
    await w.plan();
    // CreateSchedule fails after the step is recorded executed: the act agent's retries fail the same way.
    await expect(w.act()).rejects.toThrow(/CreateSchedule/);
    expect(await desired('unscheduled')).toBe(5);
    await putAlarm(`${w.prefix}errors`, 'OK');
    now = new Date(Date.now() + 4 * minutes);
    const [repair] = (await sweep(w.deps)).repairs.filter((r) => r.incidentId === w.incidentId);
    expect(repair).toMatchObject({ kind: 'overdue_check', detail: expect.stringContaining('resolved') });
    expect((await incidentRow(w.incidentId)).state).toBe('resolved');
    expect(await desired('unscheduled')).toBe(5); // acted once, kept
  });

  it('publishes what a failed PutEvents left in the outbox after the change committed', async () => {
    const w = await world('putevents');
    const working = w.deps.bus;
    w.deps.bus = {
      async publish() {
        throw new Error('PutEvents: ServiceUnavailable');
      },
    };
    await expect(w.plan()).rejects.toThrow(/PutEvents/);
    expect(w.bus.published).toHaveLength(0);
    const pending = async () =>
      (
        await database.pool.query(
          `SELECT envelope ->> 'type' AS type FROM outbox WHERE published_at IS NULL AND envelope ->> 'incidentId' = $1`,
          [w.incidentId],
        )
      ).rows.map((r) => r.type);
    expect(await pending()).toEqual([detailTypes.planApproved]); // the plan committed; its event waits
    w.deps.bus = working;
    w.deps.republish = async (at) =>
      (await republishStale({ db: database.pool, bus: working, now: at })).published.length;
    now = new Date(Date.now() + 2 * minutes);
    expect((await sweep(w.deps)).republished).toBeGreaterThanOrEqual(1);
    expect(await pending()).toEqual([]);
    expect(w.bus.published.filter((e) => e.incidentId === w.incidentId).map((e) => e.type)).toEqual([
      detailTypes.planApproved,
    ]);
    // The act agent picks it up as if nothing had happened: one action.
    expect(await w.act()).toMatchObject({ outcome: 'executed' });
    expect(await desired('putevents')).toBe(5);
  });

  it('expires an approval nobody answered: escalated, lease released, nothing acted', async () => {
    const w = await world('unanswered', { autonomy: 'approve' });
    expect(await w.plan()).toMatchObject({ outcome: 'awaiting_approval' });
    expect(await lease('unanswered')).toBe(w.incidentId);
    now = new Date(Date.now() + 30 * minutes); // within the hour the link is valid
    expect((await sweep(w.deps)).repairs.filter((r) => r.incidentId === w.incidentId)).toEqual([]);
    expect((await incidentRow(w.incidentId)).state).toBe('awaiting_approval');
    now = new Date(Date.now() + 61 * minutes);
    expect((await sweep(w.deps)).approvalsExpired).toBeGreaterThanOrEqual(1);
    expect((await incidentRow(w.incidentId)).state).toBe('escalated');
    expect(await lease('unanswered')).toBeNull();
    const escalated = w.bus.published.find(
      (e) => e.type === detailTypes.incidentEscalated && e.incidentId === w.incidentId,
    );
    expect(escalated?.data).toMatchObject({ reason: expect.stringContaining('approval expired') });
    expect(await desired('unanswered')).toBe(3); // nothing acted
  });

  it('escalates an approved step the act agent never ran, counted from the approval', async () => {
    const w = await world('approved-lost', { autonomy: 'approve' });
    expect(await w.plan()).toMatchObject({ outcome: 'awaiting_approval' });
    now = new Date(Date.now() + 20 * minutes);
    // Decided late (within the link's hour): the stall is counted from the decision, not from the request.
    expect(
      await decideApproval(
        { incidentId: w.incidentId, decision: 'approve', decidedBy: 'arn:aws:iam::1:user/ana' },
        { ...w.deps, secret: async () => 'an-approval-signing-key-of-at-least-32-bytes' },
      ),
    ).toMatchObject({ outcome: 'approved' });
    await database.pool.query('UPDATE approvals SET decided_at = $2 WHERE incident_id = $1', [
      w.incidentId,
      now,
    ]);
    // plan.approved is lost: the act agent never runs.
    now = new Date(Date.now() + 30 * minutes);
    expect((await sweep(w.deps)).repairs.filter((r) => r.incidentId === w.incidentId)).toEqual([]);
    now = new Date(Date.now() + 40 * minutes);
    const [repair] = (await sweep(w.deps)).repairs.filter((r) => r.incidentId === w.incidentId);
    expect(repair?.detail).toContain('while awaiting_approval: the approved action was never carried out');
    expect((await incidentRow(w.incidentId)).state).toBe('escalated');
    expect(await desired('approved-lost')).toBe(3);
  });

  it('escalates a step whose verification keeps failing instead of retrying it for ever', async () => {
    const w = await world('unreadable');
    await w.plan();
    await w.act();
    w.deps.health = {
      read: async () => {
        throw new Error('AccessDeniedException: not authorized to perform ecs:DescribeServices');
      },
    };
    now = new Date(Date.now() + 4 * minutes);
    const first = await sweep(w.deps);
    expect(first.failures.map((f) => f.what)).toContain(`overdue check of ${w.incidentId}:1`);
    expect((await incidentRow(w.incidentId)).state).toBe('verifying');
    now = new Date(Date.now() + 20 * minutes);
    const [repair] = (await sweep(w.deps)).repairs.filter((r) => r.incidentId === w.incidentId);
    expect(repair?.detail).toMatch(/could not be verified for \d+ min/);
    expect((await incidentRow(w.incidentId)).state).toBe('escalated');
    expect(await lease('unreadable')).toBeNull();
  });

  it('escalates an incident that stopped making progress, freeing its service for the next incident', async () => {
    const w = await world('stalled');
    // The diagnosis never completes (the diagnose agent's retries ended in its DLQ).
    now = new Date(Date.now() + 10 * minutes);
    expect((await sweep(w.deps)).repairs.filter((r) => r.incidentId === w.incidentId)).toEqual([]);
    now = new Date(Date.now() + 16 * minutes);
    const [repair] = (await sweep(w.deps)).repairs.filter((r) => r.incidentId === w.incidentId);
    expect(repair).toMatchObject({
      kind: 'stalled_incident',
      detail: expect.stringMatching(
        /no progress for 1[56] min while diagnosing: the diagnosis never completed/,
      ),
    });
    expect((await incidentRow(w.incidentId)).state).toBe('escalated');
    const escalated = w.bus.published.find((e) => e.type === detailTypes.incidentEscalated);
    expect(escalated?.data).toMatchObject({ incidentId: w.incidentId, reason: repair?.detail });
    // The live-incident slot is free: a new incident on the same service can open.
    await database.pool.query(
      `INSERT INTO incidents (cluster, service, title, fingerprint, opened_at, updated_at, last_signal_at)
       VALUES ($1, 'stalled', 'next', 'fp-next', now(), now(), now())`,
      [cluster],
    );
  });
});
