import { randomUUID } from 'node:crypto';
import {
  DescribeServicesCommand,
  DescribeTaskDefinitionCommand,
  DescribeTasksCommand,
  ECSClient,
  ListTasksCommand,
  StopTaskCommand,
  UpdateServiceCommand,
} from '@aws-sdk/client-ecs';
import { GetParameterCommand, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createEcsService,
  emulatorClientConfig,
  startMigratedDatabase,
  type TestDatabase,
  uniqueName,
} from '../../localstack/testing.ts';
import { EcsChaosInjector } from '../adapters/chaos-injector.ts';
import { PostgresChaosStore } from '../adapters/chaos-store.ts';
import { SsmKillSwitch } from '../adapters/kill-switch.ts';
import { republishStale } from '../adapters/outbox-relay.ts';
import { parseChaosConfig } from '../config/chaos.ts';
import type { Experiment } from '../domain/chaos.ts';
import type { EventPublisher } from '../domain/ports.ts';
import { detailTypes } from '../events/detail-types.ts';
import { buildEnvelope } from '../events/envelope.ts';
import { FakeBus } from '../testing/fakes.ts';
import { asBusEvent, seedIncident } from '../testing/incidents.ts';
import {
  type ChaosDeps,
  handleChaosEvent,
  type RevertScheduler,
  revertExperiment,
  sweepReverts,
} from './chaos.ts';

/**
 * The chaos agent's use-cases against the emulator's ECS and SSM and the
 * knowledge database on PGlite: every experiment injects and reverts, the
 * guardrails refuse (audited), reverts retry and escalate, the game day is scored.
 */
describe('chaos experiments', () => {
  const config = emulatorClientConfig();
  const ecs = new ECSClient(config);
  const ssm = new SSMClient(config);
  const cluster = uniqueName('chaos');
  const optIn = { 'homeostat:chaos': 'opt-in' };
  const killSwitchName = `/homeostat-test/${cluster}/kill-switch`;
  let database: TestDatabase;
  let store: PostgresChaosStore;
  const now = new Date();
  const scheduled: { name: string; at: Date; input: unknown }[] = [];
  const scheduler: RevertScheduler = {
    async schedule(name, input, at) {
      scheduled.push({ name, input, at });
      return 'created';
    },
  };

  const experiment = (name: string, service: string, fault: Record<string, unknown>, extra = {}) =>
    parseChaosConfig({
      experiments: [{ name, target: { cluster, service }, fault, durationMinutes: 5, ...extra }],
    }).experiments[0] as Experiment;

  const deps = (
    experiments: readonly Experiment[],
    over: Partial<ChaosDeps> = {},
  ): ChaosDeps & { bus: FakeBus } =>
    ({
      experiments,
      settings: {
        ...parseChaosConfig({}),
        guardrails: { ...parseChaosConfig({}).guardrails, maxConcurrent: 10 },
      },
      clock: { now: () => now },
      killSwitch: new SsmKillSwitch(ssm, killSwitchName, 0),
      injector: new EcsChaosInjector(ecs, ssm),
      alarmsInAlarm: async () => [],
      store,
      scheduler,
      bus: new FakeBus(),
      newId: randomUUID,
      ...over,
    }) as ChaosDeps & { bus: FakeBus };

  const run = (d: ChaosDeps, name: string, extra: Record<string, unknown> = {}) =>
    handleChaosEvent(
      {
        homeostat: 'chaos.run',
        experiment: name,
        requestedBy: 'human:tester',
        requestId: randomUUID(),
        ...extra,
      },
      d,
    );
  const describeService = async (service: string) =>
    (await ecs.send(new DescribeServicesCommand({ cluster, services: [service] }))).services?.[0];
  const running = async (service: string) =>
    (await ecs.send(new ListTasksCommand({ cluster, serviceName: service, desiredStatus: 'RUNNING' })))
      .taskArns ?? [];
  const audit = async (experimentId: string) =>
    (
      await database.pool.query(
        `SELECT actor, action, result FROM audit_log WHERE inputs ->> 'experimentId' = $1 ORDER BY id`,
        [experimentId],
      )
    ).rows;
  /** The emulator's ECS, except the calls `fails` picks (counted per command name), which throw. */
  const flakyEcs = (fails: (command: object, nth: number) => boolean) => {
    const seen = new Map<string, number>();
    return {
      send: (command: object) => {
        const name = command.constructor.name;
        seen.set(name, (seen.get(name) ?? 0) + 1);
        if (fails(command, seen.get(name) ?? 0))
          return Promise.reject(new Error(`${name} failed: ThrottlingException`));
        return ecs.send(command as never);
      },
    } as unknown as ECSClient;
  };
  const throwing = (message: string) => async () => {
    throw new Error(message);
  };

  beforeAll(async () => {
    database = await startMigratedDatabase();
    store = new PostgresChaosStore(database.pool);
  });
  afterAll(async () => database?.stop());

  it('stop_tasks stops a share of the running tasks, announces it, and its revert restarts what is missing', async () => {
    await createEcsService(ecs, cluster, 'stop', 3, optIn);
    const d = deps([experiment('stop-one', 'stop', { kind: 'stop_tasks' })]);
    const result = await run(d, 'stop-one');
    expect(result).toMatchObject({ outcome: 'injected', injection: { kind: 'stop_tasks', count: 1 } });
    const id = (result as { experimentId: string }).experimentId;
    const stopped = (await store.get(id))?.preState?.stoppedTasks ?? [];
    expect(stopped).toHaveLength(1);
    const task = (await ecs.send(new DescribeTasksCommand({ cluster, tasks: stopped }))).tasks?.[0];
    expect(task).toMatchObject({ lastStatus: 'STOPPED', stoppedReason: `homeostat chaos experiment ${id}` });
    expect(await running('stop')).toHaveLength(2);
    expect(d.bus.published).toMatchObject([
      {
        type: 'chaos.injected',
        source: 'homeostat.chaos',
        data: { experimentId: id, experiment: 'stop-one', cluster, service: 'stop' },
      },
    ]);
    expect(scheduled.at(-1)).toMatchObject({
      name: `homeostat-chaos-revert-${id}-1`,
      input: { homeostat: 'chaos.revert', experimentId: id },
      at: new Date(now.getTime() + 5 * 60_000),
    });

    const reverted = await handleChaosEvent({ homeostat: 'chaos.revert', experimentId: id }, d);
    expect(reverted).toMatchObject({ outcome: 'reverted', needed: true });
    expect(await running('stop')).toHaveLength(3);
    expect(await handleChaosEvent({ homeostat: 'chaos.revert', experimentId: id }, d)).toMatchObject({
      outcome: 'not_live',
      state: 'reverted',
    });
    expect((await audit(id)).map((a) => a.action)).toEqual(['chaos.injected', 'chaos.reverted']);
  });

  it('scale_to scales within bounds and reverts to the desired count it found', async () => {
    await createEcsService(ecs, cluster, 'scale', 3, optIn);
    const d = deps([experiment('scale-down', 'scale', { kind: 'scale_to', desiredCount: 2 })]);
    const result = await run(d, 'scale-down');
    expect(result).toMatchObject({ outcome: 'injected', operations: ['desired count 3 → 2'] });
    expect((await describeService('scale'))?.desiredCount).toBe(2);
    await revertExperiment(
      { homeostat: 'chaos.revert', experimentId: (result as { experimentId: string }).experimentId },
      d,
    );
    expect((await describeService('scale'))?.desiredCount).toBe(3);
  });

  it('bad_deployment deploys a broken revision; the revert deploys the original and deregisters the broken one', async () => {
    const original = await createEcsService(ecs, cluster, 'deploy', 3, optIn);
    const d = deps([experiment('bad-image', 'deploy', { kind: 'bad_deployment', fault: 'image' })]);
    const result = await run(d, 'bad-image');
    expect(result).toMatchObject({ outcome: 'injected' });
    const broken = (await describeService('deploy'))?.taskDefinition ?? '';
    expect(broken).not.toBe(original);
    const td = (await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: broken }))).taskDefinition;
    expect(td?.containerDefinitions?.[0]?.image).toBe('deploy:homeostat-chaos-missing');

    const reverted = await revertExperiment(
      { homeostat: 'chaos.revert', experimentId: (result as { experimentId: string }).experimentId },
      d,
    );
    expect(reverted).toMatchObject({ outcome: 'reverted', needed: true });
    expect((await describeService('deploy'))?.taskDefinition).toBe(original);
    const gone = (await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: broken })))
      .taskDefinition;
    expect(gone?.status).toBe('INACTIVE');
  });

  it('a revert finds nothing to undo when Homeostat already repaired the fault', async () => {
    const original = await createEcsService(ecs, cluster, 'repaired', 3, optIn);
    const d = deps([experiment('bad-command', 'repaired', { kind: 'bad_deployment' })]);
    const result = (await run(d, 'bad-command')) as { experimentId: string };
    // Homeostat's rollback, as the act agent would do it.
    await ecs.send(new UpdateServiceCommand({ cluster, service: 'repaired', taskDefinition: original }));
    expect(
      await revertExperiment({ homeostat: 'chaos.revert', experimentId: result.experimentId }, d),
    ).toMatchObject({
      outcome: 'reverted',
      needed: false,
    });
    expect((await store.get(result.experimentId))?.revertNeeded).toBe(false);
  });

  it('break_dependency points the parameter at a bad endpoint and restores it', async () => {
    await createEcsService(ecs, cluster, 'dep', 2, optIn);
    const parameterName = `/homeostat-test/${cluster}/dependency-url`;
    await ssm.send(
      new PutParameterCommand({ Name: parameterName, Value: 'https://db.internal', Type: 'String' }),
    );
    const d = deps([experiment('break-db', 'dep', { kind: 'break_dependency', parameterName })]);
    const result = (await run(d, 'break-db')) as { experimentId: string };
    const value = async () =>
      (await ssm.send(new GetParameterCommand({ Name: parameterName }))).Parameter?.Value;
    expect(await value()).toBe('http://homeostat-chaos.invalid:81');
    await revertExperiment({ homeostat: 'chaos.revert', experimentId: result.experimentId }, d);
    expect(await value()).toBe('https://db.internal');
  });

  it('starts a FIS experiment from the configured template and stops it on revert', async () => {
    await createEcsService(ecs, cluster, 'fis', 4, optIn);
    const calls: string[] = [];
    const fis = {
      async start(template: string, token: string) {
        calls.push(`start ${template} ${token}`);
        return 'EXP123';
      },
      async stopIfRunning(id: string) {
        calls.push(`stop ${id}`);
        return true;
      },
    };
    const d = deps(
      [experiment('cpu', 'fis', { kind: 'fis', action: 'cpu_stress', stopAlarms: ['fis-5xx'] })],
      {
        injector: new EcsChaosInjector(ecs, ssm, { client: fis as never, templates: { cpu: 'EXT1' } }),
      },
    );
    const result = (await run(d, 'cpu')) as { experimentId: string };
    expect(result).toMatchObject({ outcome: 'injected', injection: { kind: 'fis', percentage: 50 } });
    await revertExperiment({ homeostat: 'chaos.revert', experimentId: result.experimentId }, d);
    expect(calls).toEqual([`start EXT1 ${result.experimentId}`, 'stop EXP123']);
  });

  describe('guardrails, audited', () => {
    it('refuses a service without the opt-in tag, and changes nothing', async () => {
      await createEcsService(ecs, cluster, 'untagged', 3);
      const d = deps([experiment('untagged', 'untagged', { kind: 'stop_tasks' })]);
      const result = await run(d, 'untagged');
      expect(result).toMatchObject({ outcome: 'refused', guard: 'opt_in' });
      expect(await running('untagged')).toHaveLength(3);
      const id = (result as { experimentId: string }).experimentId;
      expect(await audit(id)).toEqual([{ actor: 'human:tester', action: 'chaos.refused', result: 'opt_in' }]);
      expect(d.bus.published).toEqual([]);
    });

    it('refuses while the kill switch is on', async () => {
      await createEcsService(ecs, cluster, 'killed', 3, optIn);
      await ssm.send(
        new PutParameterCommand({ Name: killSwitchName, Value: 'on', Type: 'String', Overwrite: true }),
      );
      try {
        const result = await run(deps([experiment('killed', 'killed', { kind: 'stop_tasks' })]), 'killed');
        expect(result).toMatchObject({ outcome: 'refused', guard: 'kill_switch' });
      } finally {
        await ssm.send(
          new PutParameterCommand({ Name: killSwitchName, Value: 'off', Type: 'String', Overwrite: true }),
        );
      }
    });

    it('refuses a target with an open incident or an alarm in ALARM', async () => {
      await createEcsService(ecs, cluster, 'busy', 3, optIn);
      const e = experiment('busy', 'busy', { kind: 'stop_tasks' });
      expect(await run(deps([e], { alarmsInAlarm: async () => ['busy-5xx'] }), 'busy')).toMatchObject({
        outcome: 'refused',
        guard: 'alarm',
        reason: expect.stringContaining('busy-5xx'),
      });
      const incident = await seedIncident(database.pool, {
        cluster,
        service: 'busy',
        state: 'open',
        openedAt: now,
      });
      expect(await run(deps([e]), 'busy')).toMatchObject({
        outcome: 'refused',
        guard: 'open_incident',
        reason: expect.stringContaining(incident),
      });
    });

    it('refuses above the concurrency limit, atomically', async () => {
      await createEcsService(ecs, cluster, 'one', 3, optIn);
      await createEcsService(ecs, cluster, 'two', 3, optIn);
      const experiments = [
        experiment('one', 'one', { kind: 'scale_to', desiredCount: 2 }),
        experiment('two', 'two', { kind: 'scale_to', desiredCount: 2 }),
      ];
      const live = await store.activeCount();
      const d = deps(experiments, {
        settings: {
          ...parseChaosConfig({}),
          guardrails: { ...parseChaosConfig({}).guardrails, maxConcurrent: live + 1 },
        },
      });
      // Both pass the first count; the reservation under the lock lets exactly one in.
      const results = await Promise.all([run(d, 'one'), run(d, 'two')]);
      expect(results.map((r) => r.outcome).sort()).toEqual(['injected', 'refused']);
      expect(results.find((r) => r.outcome === 'refused')).toMatchObject({ guard: 'concurrency' });
      for (const r of results)
        if (r.outcome === 'injected')
          await revertExperiment({ homeostat: 'chaos.revert', experimentId: r.experimentId }, d);
    });

    it('rehearses a dry run: the plan, nothing changed, audited', async () => {
      await createEcsService(ecs, cluster, 'dry', 3, optIn);
      const d = deps([experiment('dry', 'dry', { kind: 'stop_tasks' })]);
      const result = await run(d, 'dry', { dryRun: true });
      expect(result).toMatchObject({ outcome: 'dry_run', injection: { kind: 'stop_tasks', count: 1 } });
      expect(await running('dry')).toHaveLength(3);
      expect(await audit((result as { experimentId: string }).experimentId)).toMatchObject([
        { action: 'chaos.dry_run' },
      ]);
    });

    it('runs a scheduled firing once, however often it is delivered', async () => {
      await createEcsService(ecs, cluster, 'once', 3, optIn);
      const d = deps([experiment('once', 'once', { kind: 'scale_to', desiredCount: 2 })]);
      const firing = {
        homeostat: 'chaos.run',
        experiment: 'once',
        requestedBy: 'schedule:once',
        scheduledTime: now.toISOString(),
      };
      const first = await handleChaosEvent(firing, d);
      expect(first.outcome).toBe('injected');
      expect(await handleChaosEvent(firing, d)).toMatchObject({ outcome: 'duplicate', state: 'injected' });
      await revertExperiment(
        { homeostat: 'chaos.revert', experimentId: (first as { experimentId: string }).experimentId },
        d,
      );
    });

    it('names an unknown experiment and dead-letters what is not a chaos command', async () => {
      expect(await run(deps([]), 'nope')).toMatchObject({ outcome: 'unknown_experiment', known: [] });
      await expect(handleChaosEvent({ homeostat: 'chaos.explode' }, deps([]))).rejects.toThrow(
        /not a chaos command/,
      );
    });
  });

  it('retries a failing revert with backoff, then escalates it as revert_failed — never forgotten', async () => {
    await createEcsService(ecs, cluster, 'stuck', 3, optIn);
    const real = new EcsChaosInjector(ecs, ssm);
    const failing = {
      target: real.target.bind(real),
      inject: real.inject.bind(real),
      revert: async () => {
        throw new Error('ECS is throttling');
      },
      stopFis: real.stopFis.bind(real),
    };
    const d = deps([experiment('stuck', 'stuck', { kind: 'scale_to', desiredCount: 2 })], {
      injector: failing,
      settings: { ...parseChaosConfig({}), revert: { maxAttempts: 2, retrySeconds: 60 } },
    });
    const id = ((await run(d, 'stuck')) as { experimentId: string }).experimentId;
    expect(await revertExperiment({ homeostat: 'chaos.revert', experimentId: id }, d)).toMatchObject({
      outcome: 'revert_retry',
      retryAt: new Date(now.getTime() + 60_000).toISOString(),
    });
    expect(scheduled.at(-1)).toMatchObject({ name: `homeostat-chaos-revert-${id}-2` });
    expect(await revertExperiment({ homeostat: 'chaos.revert', experimentId: id }, d)).toMatchObject({
      outcome: 'revert_failed',
      reason: 'revert attempt 2 failed: ECS is throttling',
    });
    expect(await store.get(id)).toMatchObject({ state: 'revert_failed', revertAttempts: 2 });
    expect((await audit(id)).map((a) => `${a.action}:${a.result}`)).toEqual([
      'chaos.injected:injected',
      'chaos.revert_retry:retry',
      'chaos.revert_failed:escalated',
    ]);
    // A person puts it right; the failed run stays on record.
    await ecs.send(new UpdateServiceCommand({ cluster, service: 'stuck', desiredCount: 3 }));
  });

  it('sweeps reverts whose schedule never fired', async () => {
    await createEcsService(ecs, cluster, 'swept', 3, optIn);
    const d = deps([experiment('swept', 'swept', { kind: 'scale_to', desiredCount: 2 })]);
    const id = ((await run(d, 'swept')) as { experimentId: string }).experimentId;
    expect((await sweepReverts(d)).reverts.map((r) => r.experimentId)).not.toContain(id);
    const later = deps(d.experiments, { clock: { now: () => new Date(now.getTime() + 8 * 60_000) } });
    const swept = await handleChaosEvent(
      { source: 'aws.events', 'detail-type': 'Scheduled Event', detail: {} },
      later,
    );
    expect(swept).toMatchObject({
      outcome: 'swept',
      reverts: expect.arrayContaining([expect.objectContaining({ experimentId: id, outcome: 'reverted' })]),
    });
    expect((await describeService('swept'))?.desiredCount).toBe(3);
  });

  it('escalates a run interrupted mid-injection instead of counting it live forever', async () => {
    const d = deps([]);
    const stuck = await store.reserve(
      {
        id: randomUUID(),
        experiment: 'interrupted',
        kind: 'scale_to',
        target: { cluster, service: 'interrupted' },
        requestedBy: 'schedule:interrupted',
        idempotencyKey: randomUUID(),
        injection: { kind: 'scale_to', from: 3, desiredCount: 2 },
        expectedRootCauses: ['capacity_shortfall'],
        durationMinutes: 5,
      },
      100,
    );
    expect(stuck.reserved).toBe(true);
    expect((await sweepReverts(d)).reverts.map((r) => r.experimentId)).not.toContain(stuck.run.id);
    const later = deps([], { clock: { now: () => new Date(Date.now() + 11 * 60_000) } });
    expect((await sweepReverts(later)).reverts).toContainEqual({
      outcome: 'revert_failed',
      experimentId: stuck.run.id,
      reason: `interrupted while injecting scale_to on ${cluster}/interrupted: check the service by hand`,
    });
    expect(await store.get(stuck.run.id)).toMatchObject({ state: 'failed' });
    expect((await audit(stuck.run.id)).map((a) => a.action)).toEqual(['chaos.failed']);
  });

  it('scores the game day from the incident the experiment caused, final once both have ended', async () => {
    await createEcsService(ecs, cluster, 'scored', 3, optIn);
    const d = deps([experiment('scored', 'scored', { kind: 'bad_deployment' })]);
    const id = ((await run(d, 'scored')) as { experimentId: string }).experimentId;
    const injectedAt = (await store.get(id))?.injectedAt as Date;
    const incidentId = await seedIncident(database.pool, {
      cluster,
      service: 'scored',
      state: 'verifying',
      openedAt: new Date(injectedAt.getTime() + 30_000),
      rootCause: 'bad_deployment',
      chaosExperimentId: id,
      steps: [{ action: 'rollback_task_definition', status: 'executed' }],
    });
    // Reverted while the incident is still open: scored, not final.
    const reverted = await revertExperiment({ homeostat: 'chaos.revert', experimentId: id }, d);
    expect(reverted).toMatchObject({
      outcome: 'reverted',
      finalScore: false,
      score: { detected: true, final: false },
    });
    await database.pool.query(`UPDATE incidents SET state = 'resolved', closed_at = $2 WHERE id = $1`, [
      incidentId,
      new Date(injectedAt.getTime() + 90_000),
    ]);
    const learningRecorded = (chaosExperimentId: string) =>
      asBusEvent(
        buildEnvelope({
          type: detailTypes.learningRecorded,
          source: 'homeostat.learn',
          time: now,
          causationId: randomUUID(),
          incidentId,
          data: { incidentId, chaosExperimentId },
        }),
      );
    const learned = learningRecorded(id);
    const scored = await handleChaosEvent(learned, d);
    expect(scored).toMatchObject({
      outcome: 'scored',
      finalScore: true,
      score: {
        incidentId,
        detected: true,
        timeToDetectMs: 30_000,
        diagnosisCorrect: true,
        mitigated: true,
        timeToMitigateMs: 90_000,
        revertNeeded: true,
        score: 90,
        final: true,
      },
    });
    // Another tool's marker id is not this agent's to score.
    expect(await handleChaosEvent(learningRecorded('gremlin-42'), d)).toMatchObject({ outcome: 'ignored' });
    // A redelivery changes nothing and emits nothing twice.
    expect(await handleChaosEvent(learned, d)).toMatchObject({ finalScore: false });
    const { rows } = await database.pool.query(
      'SELECT score, final FROM game_day_scores WHERE experiment_id = $1',
      [id],
    );
    expect(rows).toEqual([{ score: 90, final: true }]);
  });
  describe('a failed or partial injection is undone at once from what it recorded', () => {
    it('stop_tasks that stopped 2 of 3 tasks, then failed, brings the stopped tasks back', async () => {
      await createEcsService(ecs, cluster, 'partial', 6, optIn);
      const d = deps([experiment('stop-half', 'partial', { kind: 'stop_tasks', share: 0.5 })], {
        injector: new EcsChaosInjector(
          flakyEcs((c, nth) => c instanceof StopTaskCommand && nth === 3),
          ssm,
        ),
      });
      const result = await run(d, 'stop-half');
      expect(result).toMatchObject({
        outcome: 'failed',
        state: 'failed',
        reason: expect.stringMatching(
          /^injecting failed: StopTaskCommand failed: ThrottlingException: reverted at once \(\d of 6 tasks running: forced a new deployment\)$/,
        ),
      });
      const id = (result as { experimentId: string }).experimentId;
      // Recorded before each stop: the two stopped and the third it was stopping.
      expect((await store.get(id))?.preState?.stoppedTasks).toHaveLength(3);
      expect(await store.get(id)).toMatchObject({ state: 'failed', revertNeeded: true });
      expect(await running('partial')).toHaveLength(6);
      expect((await audit(id)).map((a) => `${a.action}:${a.result}`)).toEqual(['chaos.failed:failed']);
      expect(d.bus.published).toEqual([]);
    });

    it('bad_deployment that registered its broken revision, then failed to deploy it, deregisters it', async () => {
      const original = await createEcsService(ecs, cluster, 'half-deploy', 3, optIn);
      const d = deps([experiment('bad-half', 'half-deploy', { kind: 'bad_deployment', fault: 'image' })], {
        injector: new EcsChaosInjector(
          flakyEcs((c) => c instanceof UpdateServiceCommand && Boolean(c.input.taskDefinition)),
          ssm,
        ),
      });
      const result = await run(d, 'bad-half');
      expect(result).toMatchObject({ outcome: 'failed', state: 'failed' });
      const id = (result as { experimentId: string }).experimentId;
      const broken = (await store.get(id))?.preState?.chaosTaskDefinition ?? '';
      expect(broken).toMatch(/task-definition\/half-deploy:\d+$/);
      expect(broken).not.toBe(original);
      const td = (await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: broken })))
        .taskDefinition;
      expect(td?.status).toBe('INACTIVE');
      expect((await describeService('half-deploy'))?.taskDefinition).toBe(original);
    });

    it('an immediate revert that fails too leaves the run revert_failed, escalated', async () => {
      await createEcsService(ecs, cluster, 'stuck-now', 3, optIn);
      const real = new EcsChaosInjector(ecs, ssm);
      const d = deps([experiment('stuck-now', 'stuck-now', { kind: 'scale_to', desiredCount: 2 })], {
        injector: {
          target: real.target.bind(real),
          inject: real.inject.bind(real),
          revert: throwing('ECS is throttling'),
          stopFis: real.stopFis.bind(real),
        },
        scheduler: { schedule: throwing('Scheduler is unavailable') },
      });
      const result = await run(d, 'stuck-now');
      expect(result).toEqual({
        outcome: 'failed',
        experimentId: expect.any(String),
        state: 'revert_failed',
        reason:
          'the revert could not be scheduled (Scheduler is unavailable); reverting it at once failed too: ECS is throttling',
      });
      const id = (result as { experimentId: string }).experimentId;
      expect(await store.get(id)).toMatchObject({
        state: 'revert_failed',
        revertAttempts: 1,
        preState: { desiredCount: 3 },
      });
      expect((await audit(id)).map((a) => `${a.action}:${a.result}`)).toEqual([
        'chaos.revert_failed:escalated',
      ]);
      // Reports count it with the escalated reverts.
      const records = await store.records(new Date(now.getTime() - 60_000), new Date(Date.now() + 60_000));
      expect(records.find((r) => r.experimentId === id)).toMatchObject({ state: 'revert_failed' });
      // A person puts it right.
      await ecs.send(new UpdateServiceCommand({ cluster, service: 'stuck-now', desiredCount: 3 }));
    });

    it('a run interrupted mid-injection is undone by the sweep from what it recorded', async () => {
      await createEcsService(ecs, cluster, 'cut-off', 3, optIn);
      const reserved = await store.reserve(
        {
          id: randomUUID(),
          experiment: 'cut-off',
          kind: 'scale_to',
          target: { cluster, service: 'cut-off' },
          requestedBy: 'schedule:cut-off',
          idempotencyKey: randomUUID(),
          injection: { kind: 'scale_to', from: 3, desiredCount: 1 },
          expectedRootCauses: ['capacity_shortfall'],
          durationMinutes: 5,
        },
        100,
      );
      // What the injector records before it scales, then the change, then the crash.
      await store.recordPreState(reserved.run, { desiredCount: 3, taskDefinition: 'cut-off:1' });
      await ecs.send(new UpdateServiceCommand({ cluster, service: 'cut-off', desiredCount: 1 }));
      const later = deps([], { clock: { now: () => new Date(Date.now() + 11 * 60_000) } });
      expect((await sweepReverts(later)).reverts).toContainEqual(
        expect.objectContaining({ outcome: 'reverted', experimentId: reserved.run.id, needed: true }),
      );
      expect((await describeService('cut-off'))?.desiredCount).toBe(3);
      expect(await store.get(reserved.run.id)).toMatchObject({ state: 'failed', revertNeeded: true });
    });
  });

  it('turning the kill switch on reverts every live experiment and stops FIS runs within one sweep, audited', async () => {
    await createEcsService(ecs, cluster, 'kill-scale', 3, optIn);
    await createEcsService(ecs, cluster, 'kill-fis', 4, optIn);
    const fisRunning = new Set<string>();
    const fis = {
      async start(_template: string, token: string) {
        fisRunning.add(`FIS-${token}`);
        return `FIS-${token}`;
      },
      async stopIfRunning(id: string) {
        return fisRunning.delete(id);
      },
    };
    const d = deps(
      [
        experiment(
          'kill-scale',
          'kill-scale',
          { kind: 'scale_to', desiredCount: 2 },
          { durationMinutes: 60 },
        ),
        experiment(
          'kill-fis',
          'kill-fis',
          { kind: 'fis', action: 'cpu_stress', stopAlarms: ['kill-fis-5xx'] },
          { durationMinutes: 60 },
        ),
      ],
      {
        injector: new EcsChaosInjector(ecs, ssm, { client: fis as never, templates: { 'kill-fis': 'EXT2' } }),
      },
    );
    const scale = (await run(d, 'kill-scale')) as { experimentId: string };
    const cpu = (await run(d, 'kill-fis')) as { experimentId: string };
    expect([scale, cpu]).toMatchObject([{ outcome: 'injected' }, { outcome: 'injected' }]);
    // A FIS experiment no live run accounts for: its run failed after starting it.
    const stray = await store.reserve(
      {
        id: randomUUID(),
        experiment: 'kill-fis-earlier',
        kind: 'fis',
        target: { cluster, service: 'kill-fis' },
        requestedBy: 'schedule:kill-fis',
        idempotencyKey: randomUUID(),
        injection: { kind: 'fis', action: 'cpu_stress', percentage: 50 },
        expectedRootCauses: ['cpu_saturation'],
        durationMinutes: 5,
      },
      100,
    );
    const strayPre = { desiredCount: 4, taskDefinition: 'kill-fis:1', fisExperimentId: 'FIS-stray' };
    await store.markFailed(stray.run, 'lost track of it', strayPre);
    fisRunning.add('FIS-stray');

    // Nothing is due yet: a plain sweep leaves them in.
    expect((await sweepReverts(d)).reverts.map((r) => r.experimentId)).not.toContain(scale.experimentId);
    expect((await describeService('kill-scale'))?.desiredCount).toBe(2);

    await ssm.send(
      new PutParameterCommand({ Name: killSwitchName, Value: 'on', Type: 'String', Overwrite: true }),
    );
    try {
      const swept = await handleChaosEvent(
        { source: 'aws.events', 'detail-type': 'Scheduled Event', detail: {} },
        d,
      );
      expect(swept).toMatchObject({
        outcome: 'swept',
        killSwitch: { reason: 'the kill switch is engaged', fisStopped: ['FIS-stray'], fisError: null },
        reverts: expect.arrayContaining([
          expect.objectContaining({ outcome: 'reverted', experimentId: scale.experimentId, needed: true }),
          expect.objectContaining({ outcome: 'reverted', experimentId: cpu.experimentId, needed: true }),
        ]),
      });
      expect((await describeService('kill-scale'))?.desiredCount).toBe(3);
      expect(fisRunning).toEqual(new Set());
      expect(await store.get(cpu.experimentId)).toMatchObject({ state: 'reverted' });
      const reverted = await database.pool.query(
        `SELECT detail FROM audit_log WHERE action = 'chaos.reverted' AND inputs ->> 'experimentId' = $1`,
        [scale.experimentId],
      );
      expect(reverted.rows).toEqual([
        { detail: { operations: ['desired count 2 → 3'], killSwitch: 'the kill switch is engaged' } },
      ]);
      const killed = await database.pool.query(
        `SELECT actor, result, detail FROM audit_log WHERE action = 'chaos.kill_switch' ORDER BY id DESC LIMIT 1`,
      );
      expect(killed.rows[0]).toMatchObject({
        actor: 'chaos',
        result: 'stopped',
        detail: {
          reverted: expect.arrayContaining([scale.experimentId, cpu.experimentId]),
          fisStopped: ['FIS-stray'],
          fisError: null,
        },
      });
      expect(await store.activeCount()).toBe(0);
    } finally {
      await ssm.send(
        new PutParameterCommand({ Name: killSwitchName, Value: 'off', Type: 'String', Overwrite: true }),
      );
    }
  });

  it('chaos.injected is written with the injection: a failed PutEvents leaves it for the relay, never lost', async () => {
    await createEcsService(ecs, cluster, 'announced', 3, optIn);
    const down: EventPublisher = { publish: throwing('EventBridge: InternalFailure') };
    const d = deps([experiment('announced', 'announced', { kind: 'scale_to', desiredCount: 2 })], {
      bus: down,
    });
    const result = await run(d, 'announced');
    expect(result).toMatchObject({ outcome: 'injected', published: false });
    const id = (result as { experimentId: string }).experimentId;
    const outbox = async () =>
      (await database.pool.query(`SELECT envelope, published_at FROM outbox WHERE causation_id = $1`, [id]))
        .rows;
    expect(await outbox()).toEqual([
      {
        envelope: expect.objectContaining({
          type: 'chaos.injected',
          data: expect.objectContaining({ experimentId: id, service: 'announced' }),
        }),
        published_at: null,
      },
    ]);
    // A minute later the relay publishes it and marks it.
    const bus = new FakeBus();
    const relayed = await republishStale({ db: database.pool, bus, now: new Date(Date.now() + 61_000) });
    expect(relayed.published).toContain((await outbox())[0]?.envelope.id);
    expect(bus.published).toContainEqual(
      expect.objectContaining({
        type: 'chaos.injected',
        data: expect.objectContaining({ experimentId: id }),
      }),
    );
    expect((await outbox())[0]?.published_at).not.toBeNull();
    // When PutEvents works, it goes out at once and the relay has nothing left of it.
    await createEcsService(ecs, cluster, 'announced-now', 3, optIn);
    const ok = deps([experiment('announced-now', 'announced-now', { kind: 'scale_to', desiredCount: 2 })]);
    const now2 = (await run(ok, 'announced-now')) as { experimentId: string; published: boolean };
    expect(now2.published).toBe(true);
    const row = await database.pool.query('SELECT published_at FROM outbox WHERE causation_id = $1', [
      now2.experimentId,
    ]);
    expect(row.rows[0]?.published_at).not.toBeNull();
    for (const e of [id, now2.experimentId])
      await revertExperiment({ homeostat: 'chaos.revert', experimentId: e }, d);
  });
});
