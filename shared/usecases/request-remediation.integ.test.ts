import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMigratedDatabase, type TestDatabase } from '../../localstack/testing.ts';
import { PostgresPerceptionStore } from '../adapters/perception-store.ts';
import { PostgresRemediationStore } from '../adapters/remediation-store.ts';
import { remediationSettingsFromEnv } from '../config/remediation.ts';
import { detailTypes } from '../events/detail-types.ts';
import { FakeBus } from '../testing/fakes.ts';
import { seedIncident } from '../testing/incidents.ts';
import { serviceState } from '../testing/remediation.ts';
import { decideApproval } from './approve.ts';
import { type RemediationRequestDeps, requestRemediation } from './request-remediation.ts';

/**
 * The request use-case on PGlite with the service's state and the kill
 * switch in memory: which incidents can take a requested step (the states the
 * plan agent plans from), and what a request may never do.
 */
describe('requestRemediation', () => {
  let database: TestDatabase;
  let store: PostgresRemediationStore;
  let bus: FakeBus;
  let deps: RemediationRequestDeps;
  const cluster = 'shop';
  const now = new Date();

  beforeAll(async () => {
    database = await startMigratedDatabase();
    store = new PostgresRemediationStore(database.pool);
  });
  afterAll(async () => database?.stop());

  /** A watched service of its own (one live incident per service), at `approve`. */
  async function service() {
    const name = `svc-${randomUUID().slice(0, 8)}`;
    const registry = new PostgresPerceptionStore(database.pool, {}, 0);
    await registry.registerService({
      cluster,
      service: name,
      alarmPrefixes: [],
      allowedActions: [],
      minTasks: 2,
      maxTasks: 8,
      autonomy: { default: 'approve' },
    });
    bus = new FakeBus();
    deps = {
      store,
      registry,
      serviceState: { read: async (ref) => serviceState({ cluster: ref.cluster, service: ref.service }) },
      killSwitch: { read: async () => ({ engaged: false, reason: null }) },
      settings: remediationSettingsFromEnv(''),
      approvals: { secret: async () => 'k'.repeat(32), baseUrl: null, newNonce: () => randomUUID() },
      bus,
      clock: { now: () => now },
    };
    return name;
  }

  /** An incident on `name` still verifying after a restart that did not help (undone). */
  const afterFailedRestart = (name: string) =>
    seedIncident(database.pool, {
      cluster,
      service: name,
      state: 'verifying',
      openedAt: new Date(now.getTime() - 10 * 60_000),
      rootCause: 'oom',
      steps: [{ action: 'restart_service', status: 'no_effect', undone: true }],
    });

  const ask = (incidentId: string, action: string, parameters: Record<string, unknown> = {}) =>
    requestRemediation({ incidentId, action, parameters, requestedBy: 'arn:aws:iam::1:user/ana' }, deps);

  it('takes the next step after one that did not help, never the same action twice, within maxAttempts', async () => {
    const name = await service();
    const incidentId = await afterFailedRestart(name);
    const again = await ask(incidentId, 'restart_service');
    expect(again).toMatchObject({ outcome: 'refused', audited: false });
    expect(again.outcome === 'refused' && again.reason).toMatch(
      /restart_service was already tried on this incident \(step 1, no_effect\)/,
    );

    const next = await ask(incidentId, 'scale_out', { desiredCount: 6 });
    expect(next).toMatchObject({ outcome: 'awaiting_approval', step: 2, approveUrl: null, published: true });
    expect(bus.published.map((e) => e.type)).toEqual([detailTypes.approvalRequested]);
    expect((await store.incident(incidentId))?.state).toBe('awaiting_approval');

    // A third step would pass maxAttempts (3) only after two more; an incident at its limit refuses.
    const capped = await seedIncident(database.pool, {
      cluster,
      service: await service(),
      state: 'verifying',
      openedAt: new Date(now.getTime() - 10 * 60_000),
      rootCause: 'oom',
      steps: [
        { action: 'restart_service', status: 'no_effect' },
        { action: 'scale_out', status: 'worse', undone: true },
        { action: 'rollback_task_definition', status: 'failed' },
      ],
    });
    const over = await ask(capped, 'stop_task', { taskArn: 'arn:aws:ecs:x:1:task/c/1' });
    expect(over.outcome === 'refused' && over.reason).toBe(
      'the incident has had 3 remediation steps; the policy allows 3 per incident',
    );
  });

  it.each([
    ['open', [], /not diagnosed yet/],
    [
      'verifying',
      [{ action: 'scale_out', status: 'executed' }],
      /step 1 \(scale_out\) is executed: wait until its verification ends/,
    ],
    [
      'acting',
      [{ action: 'scale_out', status: 'executing' }],
      /step 1 \(scale_out\) is executing: one remediation at a time/,
    ],
    ['resolved', [{ action: 'scale_out', status: 'resolved' }], /the incident is resolved \(closed\)/],
  ] as const)('refuses an incident that is %s, writing nothing', async (state, steps, reason) => {
    const name = await service();
    const incidentId = await seedIncident(database.pool, {
      cluster,
      service: name,
      state,
      openedAt: new Date(now.getTime() - 10 * 60_000),
      ...(state === 'open' ? {} : { rootCause: 'oom' }),
      ...(state === 'resolved' ? { closedAfterMs: 60_000 } : {}),
      steps: steps.map((s) => ({ ...s })),
    });
    const result = await ask(incidentId, 'restart_service');
    expect(result.outcome === 'refused' && result.reason).toMatch(reason);
    const { rows } = await database.pool.query(
      `SELECT (SELECT count(*) FROM approvals WHERE incident_id = $1) AS approvals,
              (SELECT count(*) FROM audit_log WHERE incident_id = $1) AS audit,
              (SELECT count(*) FROM remediation_leases WHERE incident_id = $1) AS leases`,
      [incidentId],
    );
    expect(rows[0]).toEqual({ approvals: '0', audit: '0', leases: '0' });
    expect(bus.published).toEqual([]);
  });

  it('lets nobody approve an action they requested themselves; another person can', async () => {
    const name = await service();
    const incidentId = await afterFailedRestart(name);
    expect(await ask(incidentId, 'scale_out', { desiredCount: 6 })).toMatchObject({
      outcome: 'awaiting_approval',
    });
    const approveDeps = { store, bus, clock: { now: () => now }, secret: async () => 'k'.repeat(32) };
    const self = await decideApproval(
      { incidentId, decision: 'approve', decidedBy: 'arn:aws:iam::1:user/ana' },
      approveDeps,
    );
    expect(self).toMatchObject({
      outcome: 'refused',
      reason: expect.stringContaining('cannot approve it too'),
    });
    expect((await store.incident(incidentId))?.state).toBe('awaiting_approval');
    expect(
      await decideApproval(
        { incidentId, decision: 'approve', decidedBy: 'arn:aws:iam::1:user/bo' },
        approveDeps,
      ),
    ).toMatchObject({ outcome: 'approved' });
  });

  it('loses a race with the plan agent cleanly: the incident moved on, nothing filed', async () => {
    const name = await service();
    const incidentId = await seedIncident(database.pool, {
      cluster,
      service: name,
      state: 'diagnosing',
      openedAt: new Date(now.getTime() - 60_000),
      rootCause: 'cpu_saturation',
    });
    // The plan agent commits its own step between this request's reads and its commit.
    const raced: RemediationRequestDeps = {
      ...deps,
      killSwitch: {
        read: async () => {
          await database.pool.query(`UPDATE incidents SET state = 'planned' WHERE id = $1`, [incidentId]);
          return { engaged: false, reason: null };
        },
      },
    };
    const result = await requestRemediation(
      { incidentId, action: 'scale_out', parameters: { desiredCount: 6 }, requestedBy: 'ana' },
      raced,
    );
    expect(result.outcome === 'refused' && result.reason).toBe(
      'the incident changed while the request was being filed; look again',
    );
    const steps = await store.steps(incidentId);
    expect(steps).toEqual([]);
    expect(bus.published).toEqual([]);
  });
});
