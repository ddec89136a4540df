import { randomUUID } from 'node:crypto';
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import {
  DeleteServiceCommand,
  DescribeServicesCommand,
  ECSClient,
  UpdateServiceCommand,
} from '@aws-sdk/client-ecs';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
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
import { PostgresPerceptionStore } from '../adapters/perception-store.ts';
import { PostgresRemediationStore } from '../adapters/remediation-store.ts';
import { ServiceHealthReader } from '../adapters/service-health.ts';
import { ServiceStateReader } from '../adapters/service-state.ts';
import { verificationScheduleName } from '../adapters/verification-scheduler.ts';
import { parseRemediationConfig, remediationSettings } from '../config/remediation.ts';
import type { Autonomy } from '../domain/policy.ts';
import type { CatalogAction, RootCause } from '../domain/taxonomy.ts';
import { detailTypes } from '../events/detail-types.ts';
import type { Envelope } from '../events/envelope.ts';
import { buildEnvelope } from '../events/envelope.ts';
import { FakeBus, watched } from '../testing/fakes.ts';
import { asBusEvent } from '../testing/incidents.ts';
import { diagnosisCompletedEvent, offlineHypothesis } from '../testing/remediation.ts';
import { type ActDeps, executeAction } from './act.ts';
import { decideApproval } from './approve.ts';
import { type PlanDeps, planRemediation } from './plan.ts';
import { type VerifyDeps, verifyAction } from './verify.ts';

const secret = 'an-approval-signing-key-of-at-least-32-bytes';

/**
 * The remediation loop — plan, act, verify, undo, approve — on real parts:
 * the emulator's ECS, CloudWatch alarms, SSM (kill switch) and PGlite. Only
 * the scheduler is captured, so each test fires verification itself (and
 * fires it twice where that is the point).
 */
describe('remediation loop', () => {
  let database: TestDatabase;
  let store: PostgresRemediationStore;
  let registry: PostgresPerceptionStore;
  const config = emulatorClientConfig();
  const ecs = new ECSClient(config);
  const ssm = new SSMClient(config);
  const cloudwatch = new CloudWatchClient(config);
  const cluster = uniqueName('loop');
  const killSwitchName = `/homeostat-test/${cluster}/kill-switch`;
  let now = new Date();
  const clock = { now: () => now };
  const advance = (ms: number) => {
    now = new Date(now.getTime() + ms);
  };

  beforeAll(async () => {
    database = await startMigratedDatabase();
    store = new PostgresRemediationStore(database.pool);
    registry = new PostgresPerceptionStore(database.pool, {}, 0);
  });
  afterAll(async () => database?.stop());

  /** A world: a watched ECS service with one alarm in ALARM, an incident diagnosed as `rootCause`. */
  async function world(options: {
    name: string;
    rootCause: RootCause;
    actions: CatalogAction[];
    autonomy?: Autonomy;
    desired?: number;
    settings?: Record<string, unknown>;
    incidents?: number;
  }) {
    const service = options.name;
    const ref = { cluster, service };
    await createEcsService(ecs, cluster, service, options.desired ?? 3);
    const prefix = `homeostat-${cluster}-${service}-`;
    const alarm = `${prefix}errors`;
    await putAlarm(alarm, 'ALARM');
    await registry.registerService({
      ...watched(cluster, service, [prefix]),
      minTasks: 1,
      maxTasks: 8,
      autonomy: { default: options.autonomy ?? 'auto' },
    });
    const settings = remediationSettings(
      parseRemediationConfig({ maxChecks: 2, settleSeconds: 30, recheckSeconds: 30, ...options.settings }),
    );
    const bus = new FakeBus();
    const scheduled: { name: string; envelope: Envelope; at: Date }[] = [];
    const scheduler = {
      async schedule(name: string, envelope: Envelope, at: Date) {
        if (scheduled.some((s) => s.name === name)) return 'exists' as const;
        scheduled.push({ name, envelope, at });
        return 'created' as const;
      },
    };
    const remediator = new EcsRemediator(ecs, ssm, new SecretsManagerClient(config));
    const health = new ServiceHealthReader(ecs, createCloudWatchMetricsClient(config), async () => [prefix]);
    const common = {
      store,
      registry,
      serviceState: new ServiceStateReader(ecs, registry, (r, running) => store.lastKnownGood(r, running, 0)),
      killSwitch: new SsmKillSwitch(ssm, killSwitchName, 0),
      settings,
      bus,
      clock,
    };
    const plan: PlanDeps = {
      ...common,
      knowledge: async () => ({ solutions: [], runbookActions: [] }),
      approvals: { secret: async () => secret, baseUrl: 'https://approve.example', newNonce: randomUUID },
    };
    const act: ActDeps = {
      ...common,
      remediator,
      health,
      scheduler,
      scheduleName: verificationScheduleName,
    };
    const verify: VerifyDeps = {
      ...common,
      remediator,
      health,
      scheduler,
      scheduleName: verificationScheduleName,
    };
    const incidentIds: string[] = [];
    for (let i = 0; i < (options.incidents ?? 1); i++)
      incidentIds.push(await diagnosedIncident(service, options.rootCause, options.actions));
    const [incidentId] = incidentIds as [string];
    const published = (type: string) => bus.published.filter((e) => e.type === type);
    const last = (type: string) => {
      const found = published(type).at(-1);
      if (!found)
        throw new Error(`nothing published as ${type}: ${bus.published.map((e) => e.type).join(', ')}`);
      return asBusEvent(found);
    };
    return {
      ref,
      alarm,
      prefix,
      bus,
      scheduled,
      incidentId,
      incidentIds,
      plan: (
        event: unknown = asBusEvent(
          diagnosisCompleted(incidentId, service, options.rootCause, options.actions),
        ),
      ) => planRemediation(event, plan),
      act: (event = last(detailTypes.planApproved)) => executeAction(event, act),
      /** Fires the latest scheduled check (as the scheduler would, once its time has come). */
      verify: (event = asBusEvent((scheduled.at(-1) as { envelope: Envelope }).envelope)) => {
        now = new Date(Math.max(now.getTime(), (scheduled.at(-1) as { at: Date }).at.getTime()));
        return verifyAction(event, verify);
      },
      published,
      last,
      planDeps: plan,
      desired: async () => (await describe_(service))?.desiredCount,
      state: async (id = incidentId) =>
        (await database.pool.query('SELECT state FROM incidents WHERE id = $1', [id])).rows[0]
          ?.state as string,
      audit: async (id = incidentId) =>
        (
          await database.pool.query(
            'SELECT actor, action, result FROM audit_log WHERE incident_id = $1 ORDER BY id',
            [id],
          )
        ).rows as { actor: string; action: string; result: string }[],
      lease: async () =>
        (
          await database.pool.query(
            'SELECT incident_id FROM remediation_leases WHERE cluster = $1 AND service = $2',
            [cluster, service],
          )
        ).rows[0]?.incident_id ?? null,
    };
  }

  const describe_ = async (service: string) =>
    (await ecs.send(new DescribeServicesCommand({ cluster, services: [service] }))).services?.[0];

  const putAlarm = (name: string, state: 'ALARM' | 'OK') => putAlarmInState(cloudwatch, name, state);

  async function diagnosedIncident(service: string, rootCause: RootCause, actions: CatalogAction[]) {
    const id = randomUUID();
    const at = now.toISOString();
    await database.pool.query(
      `INSERT INTO incidents (id, cluster, service, state, title, fingerprint, opened_at, updated_at, last_signal_at)
       VALUES ($1, $2, $3, 'diagnosing', $4, $5, $6, $6, $6)`,
      [id, cluster, service, `${rootCause} on ${service}`, `fp-${cluster}-${service}`, at],
    );
    await database.pool.query(
      `INSERT INTO diagnoses (incident_id, provider, model, hypotheses, recommended_actions, insufficient_evidence,
                              evidence, steps, input_tokens, output_tokens, cost_usd, started_at, completed_at)
       VALUES ($1, 'offline', NULL, $2, $3, false, '[]', 0, 0, 0, 0, $4, $4)`,
      [id, JSON.stringify([offlineHypothesis(rootCause, service)]), actions, at],
    );
    return id;
  }

  const diagnosisCompleted = (
    incidentId: string,
    service: string,
    rootCause: RootCause,
    actions: CatalogAction[],
  ) => diagnosisCompletedEvent({ incidentId, cluster, service, rootCause, actions, at: now });

  it('scales out, verifies through the scheduled check, resolves, and never acts twice on redelivery', async () => {
    const w = await world({ name: 'resolves', rootCause: 'capacity_shortfall', actions: ['scale_out'] });
    expect(await w.plan()).toMatchObject({ outcome: 'planned', action: 'scale_out', mode: 'auto', step: 1 });
    expect(await w.state()).toBe('planned');
    expect(await w.lease()).toBe(w.incidentId);

    const acted = await w.act();
    expect(acted).toMatchObject({
      outcome: 'executed',
      action: 'scale_out',
      operations: ['desired count set to 5'],
    });
    expect(await w.desired()).toBe(5);
    expect(await w.state()).toBe('verifying');
    expect(w.scheduled).toHaveLength(1);
    expect(w.scheduled[0]?.name).toBe(`homeostat-verify-${w.incidentId}-1-1`);
    expect(w.last(detailTypes.actionExecuted).detail.data).toMatchObject({ dryRun: false, step: 1 });

    // A redelivered plan.approved (and a redelivered diagnosis) does nothing more.
    expect(await w.act(w.last(detailTypes.planApproved))).toMatchObject({ outcome: 'skipped' });
    expect(await w.plan()).toMatchObject({ outcome: 'skipped' });
    expect(w.published(detailTypes.actionExecuted)).toHaveLength(1);

    await putAlarm(w.alarm, 'OK');
    expect(await w.verify()).toMatchObject({ outcome: 'resolved', check: 1 });
    expect(await w.state()).toBe('resolved');
    expect(await w.lease()).toBeNull();
    expect(w.last(detailTypes.incidentResolved).detail.data).toMatchObject({ resolution: 'resolved' });
    // The scheduler firing twice: the check is claimed once.
    expect(await w.verify()).toMatchObject({ outcome: 'skipped' });
    expect(w.published(detailTypes.incidentResolved)).toHaveLength(1);
    expect((await w.audit()).map((a) => `${a.actor} ${a.action} ${a.result}`)).toEqual([
      'homeostat.plan policy.decision auto:scale_out',
      'homeostat.act action.started started',
      'homeostat.act action.executed executed',
      'homeostat.verify verification resolved',
    ]);
  });

  it('re-checks, then undoes an action that did not help and plans the next candidate', async () => {
    const w = await world({
      name: 'undoes',
      rootCause: 'capacity_shortfall',
      actions: ['scale_out', 'restart_service'],
    });
    await w.plan();
    await w.act();
    expect(await w.desired()).toBe(5);
    expect(await w.verify()).toMatchObject({ outcome: 'recheck', check: 1 });
    expect(w.scheduled.map((s) => s.name.slice(-3))).toEqual(['1-1', '1-2']);
    expect(await w.verify()).toMatchObject({ outcome: 'undone', check: 2 });
    expect(await w.desired()).toBe(3); // back to the snapshot
    const failed = w.last(detailTypes.remediationFailed);
    expect(failed.detail.data).toMatchObject({ outcome: 'no_effect', undone: true, step: 1 });

    expect(await w.plan(failed)).toMatchObject({ outcome: 'planned', action: 'restart_service', step: 2 });
    expect(await w.act()).toMatchObject({ outcome: 'executed', action: 'restart_service' });
    await putAlarm(w.alarm, 'OK');
    expect(await w.verify()).toMatchObject({ outcome: 'resolved' });
    expect(await w.state()).toBe('resolved');
  });

  it('diagnoses again before the next step when fault evidence the diagnosis never saw has arrived', async () => {
    const w = await world({
      name: 'rediagnose',
      rootCause: 'capacity_shortfall',
      actions: ['scale_out', 'restart_service'],
    });
    await w.plan();
    await w.act();
    await w.verify();
    expect(await w.verify()).toMatchObject({ outcome: 'undone' });
    const failed = w.last(detailTypes.remediationFailed);
    // ECS reports tasks crashing after the diagnosis: a kind of fault it never saw.
    await database.pool.query(
      `INSERT INTO signals (id, kind, name, state, reason, occurred_at, received_at, cluster, service, raw,
                            classification, incident_id, last_seen_at)
       VALUES ($1, 'task_stopped', 'EssentialContainerExited', 'STOPPED', 'Essential container in task exited',
               $2, $2, $3, $4, '{}', 'fault', $5, $2)`,
      [randomUUID(), new Date(now.getTime() + 60_000).toISOString(), cluster, 'rediagnose', w.incidentId],
    );
    expect(await w.plan(failed)).toMatchObject({
      outcome: 'rediagnosing',
      afterStep: 1,
      newEvidence: ['task_stopped:EssentialContainerExited'],
    });
    expect(await w.state()).toBe('verifying');
    expect(w.last(detailTypes.diagnosisRequested).detail.data).toMatchObject({
      afterStep: 1,
      newEvidence: ['task_stopped:EssentialContainerExited'],
    });
    expect(w.published(detailTypes.planApproved)).toHaveLength(1); // nothing new planned from the old answer

    // The diagnosis agent's answer (here written directly): revision 2, and the next step is planned from it.
    await database.pool.query(
      "UPDATE diagnoses SET revision = 2, revised_at = $2, recommended_actions = '{restart_service}' WHERE incident_id = $1",
      [w.incidentId, new Date(now.getTime() + 120_000).toISOString()],
    );
    const completed = diagnosisCompleted(w.incidentId, 'rediagnose', 'capacity_shortfall', [
      'restart_service',
    ]);
    const revised = buildEnvelope({
      type: detailTypes.diagnosisRevised,
      source: 'homeostat.diagnose',
      time: now,
      incidentId: w.incidentId,
      causationId: w.last(detailTypes.diagnosisRequested).detail.id,
      data: { ...completed.data, afterStep: 1, revision: 2 },
    });
    expect(await w.plan(asBusEvent(revised))).toMatchObject({
      outcome: 'planned',
      action: 'restart_service',
      step: 2,
    });
    // A redelivered failure finds the next step already planned from the new answer.
    expect(await w.plan(failed)).toMatchObject({ outcome: 'skipped' });
  });

  it('undoes at once an action that made things worse; gives up when no candidate is left', async () => {
    const w = await world({ name: 'worse', rootCause: 'capacity_shortfall', actions: ['scale_out'] });
    await w.plan();
    await w.act();
    await putAlarm(`${w.prefix}latency`, 'ALARM');
    expect(await w.verify()).toMatchObject({ outcome: 'undone', check: 1, judgement: { outcome: 'worse' } });
    expect(await w.desired()).toBe(3);
    expect(await w.plan(w.last(detailTypes.remediationFailed))).toMatchObject({
      outcome: 'escalated',
      action: 'escalate',
    });
    expect(await w.state()).toBe('escalated');
    expect(await w.lease()).toBeNull();
  });

  it('closes a no-fault incident at once, so an alarm that stays in ALARM does not hold the service slot', async () => {
    const w = await world({ name: 'no-fault', rootCause: 'no_fault', actions: ['none'] });
    expect(await w.plan()).toMatchObject({ outcome: 'none', action: 'none' });
    expect(await w.state()).toBe('self_resolved');
    expect(await w.lease()).toBeNull();
    expect(w.last(detailTypes.incidentResolved).detail.data).toMatchObject({ resolution: 'self_resolved' });
  });

  it('observe mode runs the whole loop as a dry run and touches nothing', async () => {
    const w = await world({
      name: 'observes',
      rootCause: 'capacity_shortfall',
      actions: ['scale_out'],
      autonomy: 'observe',
    });
    expect(await w.plan()).toMatchObject({ outcome: 'planned', mode: 'observe' });
    expect(await w.act()).toMatchObject({
      outcome: 'dry_run',
      operations: ['would set the desired count to 5'],
    });
    expect(await w.desired()).toBe(3);
    expect(w.last(detailTypes.actionExecuted).detail.data).toMatchObject({ dryRun: true });
    expect(await w.state()).toBe('planned');
    await putAlarm(w.alarm, 'OK');
    expect(await w.verify()).toMatchObject({ outcome: 'self_resolved' });
    expect(await w.state()).toBe('self_resolved');
    expect(await w.desired()).toBe(3);
  });

  it('asks a human: tampered, replayed, expired and wrong-decision tokens are refused; approval acts, rejection escalates', async () => {
    const w = await world({
      name: 'approves',
      rootCause: 'capacity_shortfall',
      actions: ['scale_out'],
      autonomy: 'approve',
    });
    expect(await w.plan()).toMatchObject({ outcome: 'awaiting_approval', action: 'scale_out' });
    expect(await w.state()).toBe('awaiting_approval');
    const request = w.last(detailTypes.approvalRequested).detail.data as {
      approveUrl: string;
      rejectUrl: string;
    };
    expect(request.approveUrl).toMatch(/^https:\/\/approve\.example\/\?decision=approve&token=/);
    const tokenOf = (url: string) => new URL(url).searchParams.get('token') as string;
    const [approveToken, rejectToken] = [tokenOf(request.approveUrl), tokenOf(request.rejectUrl)];
    expect(approveToken).not.toBe(rejectToken);
    const deps = { store, secret: async () => secret, bus: w.bus, clock };
    const [version, payload, signature] = approveToken.split('.') as [string, string, string];
    const tampered = `${version}.${payload}.${signature.slice(0, -2)}${signature.endsWith('AA') ? 'BB' : 'AA'}`;
    expect(await decideApproval({ token: tampered, decision: 'approve' }, deps)).toMatchObject({
      outcome: 'refused',
      reason: 'the approval link is tampered',
    });
    // The reject link with its decision edited to approve (one token served both links before).
    expect(await decideApproval({ token: rejectToken, decision: 'approve' }, deps)).toMatchObject({
      outcome: 'refused',
      reason: expect.stringContaining('this link can only reject'),
    });
    expect(await w.desired()).toBe(3);

    const approved = await decideApproval({ token: approveToken, decision: 'approve' }, deps);
    expect(approved).toMatchObject({ outcome: 'approved', action: 'scale_out', decidedBy: 'link holder' });
    // Replayed: the same answer, nothing more happens.
    expect(await decideApproval({ token: approveToken, decision: 'approve' }, deps)).toEqual(approved);
    expect(w.published(detailTypes.planApproved)).toHaveLength(1);
    expect(w.last(detailTypes.planApproved).detail.data).toMatchObject({
      approvedBy: 'link holder',
      autonomy: 'approve',
    });
    expect(await w.act()).toMatchObject({ outcome: 'executed' });
    expect(await w.desired()).toBe(5);
    expect((await w.audit()).some((a) => a.actor === 'human:link holder' && a.result === 'approved')).toBe(
      true,
    );

    // A second incident: the link expires, for the CLI too; a fresh request is rejected.
    const v = await world({
      name: 'rejects',
      rootCause: 'capacity_shortfall',
      actions: ['scale_out'],
      autonomy: 'approve',
    });
    await v.plan();
    const expiring = v.last(detailTypes.approvalRequested).detail.data as { approveUrl: string };
    advance(61 * 60_000);
    expect(
      await decideApproval({ token: tokenOf(expiring.approveUrl), decision: 'approve' }, deps),
    ).toMatchObject({
      outcome: 'refused',
      reason: expect.stringContaining('expired'),
    });
    expect(
      await decideApproval({ incidentId: v.incidentId, decision: 'approve', decidedBy: 'ana' }, deps),
    ).toMatchObject({ outcome: 'refused', reason: expect.stringContaining('expired') });
    await database.pool.query(`UPDATE incidents SET state = 'escalated' WHERE id = $1`, [v.incidentId]);
    const second = await diagnosedIncident('rejects', 'capacity_shortfall', ['scale_out']);
    await planRemediation(
      asBusEvent(diagnosisCompleted(second, 'rejects', 'capacity_shortfall', ['scale_out'])),
      v.planDeps,
    );
    expect(
      await decideApproval({ incidentId: second, decision: 'reject', decidedBy: 'bo' }, deps),
    ).toMatchObject({
      outcome: 'rejected',
    });
    expect(await v.state(second)).toBe('escalated');
    expect(await v.desired()).toBe(3);
  });

  it('refuses at the moment of acting when the kill switch was engaged after planning', async () => {
    const w = await world({ name: 'killed', rootCause: 'capacity_shortfall', actions: ['scale_out'] });
    await w.plan();
    await ssm.send(
      new PutParameterCommand({ Name: killSwitchName, Value: 'on', Type: 'String', Overwrite: true }),
    );
    try {
      expect(await w.act()).toMatchObject({
        outcome: 'escalated',
        reason: expect.stringContaining('kill switch'),
      });
    } finally {
      await ssm.send(
        new PutParameterCommand({ Name: killSwitchName, Value: 'off', Type: 'String', Overwrite: true }),
      );
    }
    expect(await w.desired()).toBe(3);
    expect(await w.state()).toBe('escalated');
    expect(w.scheduled).toHaveLength(0);
  });

  it('plans once for two simultaneous deliveries; a lease left by a closed incident does not block the next', async () => {
    const w = await world({ name: 'concurrent', rootCause: 'capacity_shortfall', actions: ['scale_out'] });
    const results = await Promise.all([w.plan(), w.plan()]);
    expect(results.map((r) => r.outcome).sort()).toEqual(['planned', 'skipped']);
    // Both may publish what the outbox holds (at least once), but it is one event: one id, one step.
    expect(new Set(w.published(detailTypes.planApproved).map((e) => e.id)).size).toBe(1);
    expect(await w.lease()).toBe(w.incidentId);

    // Perception self-resolves the planned incident (the service recovered before acting); a new one opens.
    await database.pool.query(`UPDATE incidents SET state = 'self_resolved' WHERE id = $1`, [w.incidentId]);
    const next = await diagnosedIncident('concurrent', 'capacity_shortfall', ['scale_out']);
    expect(
      await planRemediation(
        asBusEvent(diagnosisCompleted(next, 'concurrent', 'capacity_shortfall', ['scale_out'])),
        w.planDeps,
      ),
    ).toMatchObject({ outcome: 'planned' });
    expect(await w.lease()).toBe(next);
    // The first incident's approved plan, delivered late, is cancelled: its incident is closed.
    expect(await w.act(asBusEvent(w.published(detailTypes.planApproved)[0] as Envelope))).toMatchObject({
      outcome: 'skipped',
      reason: 'incident is self_resolved',
    });
    expect(await w.desired()).toBe(3);
  });

  it('escalates without acting again when the service is deleted mid-remediation, or the snapshot is missing', async () => {
    const w = await world({ name: 'deleted', rootCause: 'capacity_shortfall', actions: ['scale_out'] });
    await w.plan();
    await w.act();
    await ecs.send(new DeleteServiceCommand({ cluster, service: 'deleted', force: true }));
    expect(await w.verify()).toMatchObject({
      outcome: 'escalated',
      reason: expect.stringContaining('deleted'),
    });
    expect(await w.state()).toBe('escalated');

    const v = await world({ name: 'nosnapshot', rootCause: 'capacity_shortfall', actions: ['scale_out'] });
    await v.plan();
    await v.act();
    await database.pool.query(`UPDATE remediation_steps SET snapshot = NULL WHERE incident_id = $1`, [
      v.incidentId,
    ]);
    // Without the snapshot's health, "worse" cannot be told from "no better": checked again, then not undone.
    await putAlarm(`${v.prefix}latency`, 'ALARM');
    expect(await v.verify()).toMatchObject({ outcome: 'recheck' });
    expect(await v.verify()).toMatchObject({
      outcome: 'escalated',
      reason: 'no pre-state snapshot was recorded',
    });
    expect(await v.desired()).toBe(5); // not "undone" to a guess
    expect(v.last(detailTypes.remediationFailed).detail.data).toMatchObject({ undone: false });
  });

  it('escalates with nothing changed when ECS refuses the action', async () => {
    const w = await world({ name: 'refused', rootCause: 'capacity_shortfall', actions: ['scale_out'] });
    await w.plan();
    const failing = new ECSClient(config);
    failing.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'UpdateServiceCommand')
          throw Object.assign(new Error('User is not authorized to perform ecs:UpdateService'), {
            name: 'AccessDeniedException',
            $fault: 'client',
            $metadata: { httpStatusCode: 400 },
          });
        return next(args);
      },
      { step: 'initialize', name: 'refuseUpdates' },
    );
    const deps = {
      ...w.planDeps,
      remediator: new EcsRemediator(failing, ssm, new SecretsManagerClient(config)),
      health: new ServiceHealthReader(ecs, createCloudWatchMetricsClient(config), async () => [w.prefix]),
      scheduler: { schedule: async () => 'created' as const },
      scheduleName: verificationScheduleName,
    };
    expect(await executeAction(w.last(detailTypes.planApproved), deps)).toMatchObject({
      outcome: 'escalated',
      reason: expect.stringContaining('not authorized'),
    });
    expect(await w.desired()).toBe(3);
    expect(await w.state()).toBe('escalated');
    expect((await w.audit()).map((a) => a.action)).toEqual([
      'policy.decision',
      'action.started',
      'action.failed',
    ]);
  });

  const setKillSwitch = (value: 'on' | 'off') =>
    ssm.send(
      new PutParameterCommand({ Name: killSwitchName, Value: value, Type: 'String', Overwrite: true }),
    );

  it('does not undo over a person who scaled the service during verification: escalates with what changed', async () => {
    const w = await world({
      name: 'human',
      rootCause: 'capacity_shortfall',
      actions: ['scale_out', 'restart_service'],
    });
    await w.plan();
    await w.act();
    expect(await w.desired()).toBe(5);
    // On call scales to 6 by hand while Homeostat's scale-out is being verified.
    await ecs.send(new UpdateServiceCommand({ cluster, service: 'human', desiredCount: 6 }));
    await putAlarm(`${w.prefix}latency`, 'ALARM');
    expect(await w.verify()).toMatchObject({
      outcome: 'escalated',
      reason: expect.stringContaining('desired count is 6, the action left 5'),
    });
    expect(await w.desired()).toBe(6); // the person's change stands
    expect(await w.state()).toBe('escalated');
    expect(await w.lease()).toBeNull();
    expect(w.last(detailTypes.remediationFailed).detail.data).toMatchObject({
      undone: false,
      outcome: 'worse',
    });
    expect(w.published(detailTypes.planApproved)).toHaveLength(1); // nothing further planned
  });

  it('does not undo while the kill switch is engaged; escalates instead', async () => {
    const w = await world({ name: 'killundo', rootCause: 'capacity_shortfall', actions: ['scale_out'] });
    await w.plan();
    await w.act();
    await putAlarm(`${w.prefix}latency`, 'ALARM');
    await setKillSwitch('on');
    try {
      expect(await w.verify()).toMatchObject({
        outcome: 'escalated',
        reason: expect.stringContaining('kill switch is engaged'),
      });
    } finally {
      await setKillSwitch('off');
    }
    expect(await w.desired()).toBe(5);
    expect(await w.state()).toBe('escalated');
  });

  it('undoes once when the same check is delivered twice at the same moment', async () => {
    const w = await world({ name: 'twice', rootCause: 'capacity_shortfall', actions: ['scale_out'] });
    await w.plan();
    await w.act();
    await putAlarm(`${w.prefix}latency`, 'ALARM');
    const due = asBusEvent((w.scheduled.at(-1) as { envelope: Envelope }).envelope);
    let updates = 0;
    const counter = 'countUndoUpdates';
    ecs.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'UpdateServiceCommand') updates += 1;
        return next(args);
      },
      { step: 'initialize', name: counter },
    );
    try {
      const results = await Promise.all([w.verify(due), w.verify(due)]);
      expect(results.map((r) => r.outcome).sort()).toEqual(['skipped', 'undone']);
    } finally {
      ecs.middlewareStack.remove(counter);
    }
    expect(updates).toBe(1); // one undo reached ECS
    expect(await w.desired()).toBe(3);
    expect((await w.audit()).filter((a) => a.action === 'action.undone')).toHaveLength(1);
    expect(new Set(w.published(detailTypes.remediationFailed).map((e) => e.id)).size).toBe(1);
  });

  it('refuses a forged remediation.failed or diagnosis.revised: no second action while the first is being verified', async () => {
    const w = await world({
      name: 'forged',
      rootCause: 'capacity_shortfall',
      actions: ['scale_out', 'restart_service'],
    });
    await w.plan();
    await w.act();
    expect(await w.state()).toBe('verifying');
    const forged = (data: Record<string, unknown>) =>
      asBusEvent(
        buildEnvelope({
          type: detailTypes.remediationFailed,
          source: 'homeostat.verify',
          time: now,
          incidentId: w.incidentId,
          causationId: randomUUID(),
          data: {
            incidentId: w.incidentId,
            service: w.ref,
            step: 1,
            action: 'scale_out',
            outcome: 'no_effect',
            reason: 'forged',
            undone: true,
            ...data,
          },
        }),
      );
    expect(await w.plan(forged({}))).toMatchObject({
      outcome: 'skipped',
      reason: 'remediation.failed refused: step 1 is executed, not failed',
    });
    expect(await w.plan(forged({ step: 7 }))).toMatchObject({
      reason: "remediation.failed refused: step 7 is not the incident's latest step (1)",
    });
    expect(await w.plan(forged({ action: 'restart_service' }))).toMatchObject({
      reason: expect.stringContaining('step 1 is scale_out on'),
    });
    // A forged diagnosis.revised "after" the step still being verified plans nothing either.
    const revised = diagnosisCompleted(w.incidentId, 'forged', 'capacity_shortfall', ['restart_service']);
    expect(
      await w.plan(
        asBusEvent(
          buildEnvelope({
            type: detailTypes.diagnosisRevised,
            source: 'homeostat.diagnose',
            time: now,
            incidentId: w.incidentId,
            causationId: randomUUID(),
            data: { ...revised.data, afterStep: 1, revision: 2 },
          }),
        ),
      ),
    ).toMatchObject({
      outcome: 'skipped',
      reason: 'diagnosis.revised refused: step 1 is executed, not failed',
    });
    expect(w.published(detailTypes.planApproved)).toHaveLength(1);
    expect(await w.state()).toBe('verifying');
    expect((await w.audit()).filter((a) => a.action === 'event.refused')).toHaveLength(4);
  });
});
