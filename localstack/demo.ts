/**
 * npm run demo — the whole self-healing loop on this machine, as a game day:
 * bring up the emulator and the knowledge database, deploy the stack with a
 * chaos experiment, create a sample ECS service opted in to chaos, run the
 * experiment (a broken revision deployed for real in the emulator's ECS),
 * play CloudWatch's and ECS's part (the emulator runs no containers), and show
 * the agents' timeline live — perceive, diagnose, plan, act, verify, learn —
 * then the scheduled revert and the game-day score. Stops what it started
 * unless run with --keep.
 */
import { randomUUID } from 'node:crypto';
import { CloudWatchClient, PutMetricAlarmCommand, SetAlarmStateCommand } from '@aws-sdk/client-cloudwatch';
import { ECSClient } from '@aws-sdk/client-ecs';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { createPool } from '../shared/adapters/database.ts';
import { PostgresPerceptionStore } from '../shared/adapters/perception-store.ts';
import { formatDuration } from '../shared/domain/narrative.ts';
import { ecsMetricAlarmEvent } from '../shared/testing/alarm-events.ts';
import { deploymentEvent, taskStoppedEvent } from '../shared/testing/ecs-events.ts';
import type { RunResult } from '../shared/usecases/chaos.ts';
import { deployLocal, localClientConfig, stackOutputs } from './deploy-local.ts';
import { createEcsService, uniqueName } from './fixtures.ts';
import { ensureEmulator, ensureLocalDatabase, waitFor } from './harness.ts';
import type { Scenario } from './scenario-format.ts';
import { followRemediation, remediationWorld } from './scenario-remediation.ts';
import type { WorldNames } from './scenario-world.ts';
import { runScript } from './script.ts';

const keep = process.argv.includes('--keep');
const started = Date.now();
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)}s`.padStart(6);
let stepNo = 0;
const step = (title: string) => console.log(`\n[${elapsed()}] ${++stepNo}. ${title}`);
const detail = (line: string) => console.log(`          ${line}`);

/** The game day; throws when a step fails. What it started is stopped by runScript. */
async function main(): Promise<void> {
  console.log(
    'Homeostat demo — a chaos game day on the local stack: inject, detect, diagnose, repair, verify, learn, revert, score',
  );

  step('Local AWS emulator and knowledge database (PGlite + pgvector behind the Neon WebSocket proxy)');
  const emulator = await ensureEmulator(detail);
  detail(`${emulator.started ? 'started MiniStack' : 'reusing the emulator'} at ${emulator.endpoint}`);
  const database = await ensureLocalDatabase(detail);
  detail(`${database.url} via ws://${database.wsProxy}`);

  const experiment = 'demo-bad-deployment';

  const cluster = uniqueName('shop');
  const names: WorldNames = {
    cluster,
    service: 'api',
    family: 'api',
    logGroup: `/ecs/${cluster}/api`,
    alarmPrefix: `homeostat-${cluster}-api-`,
  };
  step(
    `Deploy the CDK app into the emulator, watching ${cluster}/api, with the chaos experiment ${experiment}`,
  );
  await deployLocal({
    endpoint: emulator.endpoint,
    database,
    log: detail,
    watchedServices: [
      { cluster, service: 'api', standardAlarms: false, alarmNamePrefixes: [names.alarmPrefix] },
    ],
    chaos: {
      experiments: [
        {
          name: experiment,
          target: { cluster, service: 'api' },
          fault: { kind: 'bad_deployment', fault: 'command' },
          durationMinutes: 1,
        },
      ],
    },
  });
  const outputs = await stackOutputs(emulator.endpoint, 'Homeostat');
  const config = localClientConfig(emulator.endpoint);
  const pool = createPool({ url: database.url, wsProxy: database.wsProxy });

  step('Create the sample service api: 3 tasks, tagged homeostat:chaos=opt-in and homeostat:managed=true');
  const v1 = await createEcsService(new ECSClient(config), cluster, 'api', 3, {
    'homeostat:chaos': 'opt-in',
    'homeostat:managed': 'true',
  });
  // The demo's history: v1 ran steadily for hours (a rollback target); Homeostat may act on its own here.
  await new PostgresPerceptionStore(pool).registerService({
    cluster,
    service: 'api',
    alarmPrefixes: [names.alarmPrefix],
    allowedActions: [],
    minTasks: 1,
    maxTasks: 10,
    ...(await remediationWorld(config, pool, names, [v1, 'next'])),
  });
  const cw = new CloudWatchClient(config);
  const errorsAlarm = `${names.alarmPrefix}5xx-high`;
  await cw.send(
    new PutMetricAlarmCommand({
      AlarmName: errorsAlarm,
      Namespace: 'AWS/ApplicationELB',
      MetricName: 'HTTPCode_Target_5XX_Count',
      Statistic: 'Sum',
      Period: 60,
      EvaluationPeriods: 1,
      Threshold: 5,
      ComparisonOperator: 'GreaterThanThreshold',
    }),
  );
  detail(`running ${v1.split('/').pop()}; autonomy auto; alarm ${errorsAlarm}`);

  step(`homeostat chaos run ${experiment} — the chaos agent checks its guardrails and injects`);
  const lambda = new LambdaClient(config);
  const invoked = await lambda.send(
    new InvokeCommand({
      FunctionName: outputs.ChaosFunctionName,
      Payload: JSON.stringify({
        homeostat: 'chaos.run',
        experiment,
        requestedBy: 'human:demo',
        requestId: randomUUID(),
      }),
    }),
  );
  const run = JSON.parse(Buffer.from(invoked.Payload ?? []).toString('utf8')) as RunResult;
  if (run.outcome !== 'injected') throw new Error(`the experiment was not injected: ${JSON.stringify(run)}`);
  detail(`experiment ${run.experimentId}: ${run.operations.join('; ')}`);
  detail(`chaos.injected published; the revert is scheduled for ${run.revertAt} (EventBridge Scheduler)`);
  await waitFor(
    'the chaos marker',
    async () =>
      (await pool.query(`SELECT 1 FROM signals WHERE kind = 'chaos' AND cluster = $1`, [cluster])).rows[0],
    { timeoutMs: 60_000, intervalMs: 200 },
  );

  step('Play ECS and CloudWatch: the new tasks exit at start, the rollout fails, the 5xx alarm fires');
  const bus = new EventBridgeClient(config);
  const put = async (event: { source: string; 'detail-type': string; detail: unknown }) => {
    await bus.send(
      new PutEventsCommand({
        Entries: [
          { Source: event.source, DetailType: event['detail-type'], Detail: JSON.stringify(event.detail) },
        ],
      }),
    );
  };
  const crashed = {
    cluster,
    service: 'api',
    stopCode: 'EssentialContainerExited',
    exitCode: 1,
    stoppedReason: 'Essential container in task exited',
    containerReason: 'exit code 1: homeostat chaos: broken command',
  };
  await put(taskStoppedEvent(crashed));
  await put(taskStoppedEvent(crashed));
  await put(
    deploymentEvent({
      cluster,
      service: 'api',
      eventName: 'SERVICE_DEPLOYMENT_FAILED',
      reason: 'ECS deployment circuit breaker: tasks failed to start.',
    }),
  );
  await cw.send(
    new SetAlarmStateCommand({ AlarmName: errorsAlarm, StateValue: 'ALARM', StateReason: 'demo' }),
  );
  await put(
    ecsMetricAlarmEvent({
      cluster,
      service: 'api',
      alarmName: errorsAlarm,
      metricName: 'HTTPCode_Target_5XX_Count',
    }),
  );

  step('The agents, live (incident timeline from the knowledge database)');
  const incident = await waitFor(
    'the incident',
    async () =>
      (
        await pool.query(
          `SELECT i.id, i.chaos_experiment_id, (SELECT min(s.received_at) FROM signals s WHERE s.incident_id = i.id) AS detected_at
             FROM incidents i WHERE i.cluster = $1 AND i.service = 'api'`,
          [cluster],
        )
      ).rows[0] as { id: string; chaos_experiment_id: string | null; detected_at: Date } | undefined,
    { timeoutMs: 60_000, intervalMs: 200 },
  );
  detail(
    `incident ${incident.id}, caused by chaos experiment ${incident.chaos_experiment_id ?? '(not attributed)'}`,
  );
  let shown = 0;
  const showTimeline = async () => {
    const { rows } = await pool.query(
      'SELECT at, kind, detail FROM incident_timeline WHERE incident_id = $1 ORDER BY at, id OFFSET $2',
      [incident.id, shown],
    );
    for (const r of rows as { at: Date; kind: string; detail: Record<string, unknown> }[]) {
      shown++;
      const d = r.detail;
      const what = [d.name, d.rootCause, d.action, d.outcome, d.classification, d.reason]
        .filter((v) => typeof v === 'string')
        .join(' ');
      detail(`[${elapsed()}] ${r.kind.padEnd(22)} ${what.slice(0, 110)}`);
    }
  };
  const live = setInterval(() => void showTimeline().catch(() => {}), 300);
  const followed = await followRemediation(
    incident.id,
    new Date(incident.detected_at),
    { responses: { rollback_task_definition: 'recovers' } } as unknown as Scenario,
    names,
    { config, pool, timeoutMs: 90_000, approveFunctionName: outputs.ApproveFunctionName ?? '' },
  );
  clearInterval(live);
  await showTimeline();
  detail(
    `${followed.finalState}: first action ${followed.firstAction}; ${followed.resolved ? `resolved in ${formatDuration(followed.timeToResolveMs ?? 0)} from detection` : 'not resolved'}; learned: ${followed.learned}; notified: ${followed.notified.join(', ') || 'no channel'}`,
  );

  step('The experiment ends: its scheduled revert fires, whether or not Homeostat repaired it');
  const reverted = await waitFor(
    'the scheduled revert',
    async () =>
      (
        await pool.query(
          `SELECT * FROM chaos_experiments WHERE id = $1 AND state IN ('reverted', 'revert_failed')`,
          [run.experimentId],
        )
      ).rows[0],
    { timeoutMs: 120_000, intervalMs: 500 },
  );
  detail(`${reverted.state}: ${reverted.revert_detail}`);

  step('Game-day score');
  const score = await waitFor(
    'the final score',
    async () =>
      (
        await pool.query('SELECT * FROM game_day_scores WHERE experiment_id = $1 AND final', [
          run.experimentId,
        ])
      ).rows[0],
    { timeoutMs: 30_000, intervalMs: 500 },
  ).catch(
    async () =>
      (await pool.query('SELECT * FROM game_day_scores WHERE experiment_id = $1', [run.experimentId]))
        .rows[0],
  );
  const ms = (v: unknown) => (v === null || v === undefined ? '-' : formatDuration(Number(v)));
  detail(`score ${score?.score ?? '-'}/100${score?.final ? '' : ' (not final)'}`);
  detail(
    `detected: ${score?.detected ? 'yes' : 'no'} in ${ms(score?.time_to_detect_ms)} after the injection`,
  );
  detail(
    `diagnosis: ${score?.diagnosed_root_cause ?? '-'} (${score?.diagnosis_correct ? 'right' : 'wrong'})`,
  );
  detail(
    `mitigated: ${score?.mitigated ? 'yes' : 'no'} in ${ms(score?.time_to_mitigate_ms)}; undo used: ${score?.undo_used ? 'yes' : 'no'}; revert needed: ${score?.revert_needed ? 'yes' : 'no'}`,
  );
  await pool.end();
  lambda.destroy();
  cw.destroy();
  bus.destroy();

  console.log(`\nDone in ${elapsed().trim()}. Where to look next:`);
  console.log(
    '  • npm run demo -- --keep, then: npx homeostat chaos list · incidents · show <id> · report --html report.html',
  );
  console.log(
    '    (with AWS_ENDPOINT_URL=http://127.0.0.1:4566 and the DATABASE_URL / DATABASE_WS_PROXY that npm run local:up prints)',
  );
  console.log(
    '  • schedule chaos in your account: README.md, "Chaos game days"; try it on the sample target (-c homeostat:sampleTarget=true)',
  );
  console.log(
    '  • agent logs: .local/emulator.log · the scenario suite: npm run scenarios · the tests: npm test',
  );
  console.log(
    keep
      ? '\nLeft running (--keep). Stop with: npm run local:down'
      : '\nStopping what the demo started. Run with --keep to leave it running.',
  );
}

runScript(import.meta.url, main, {
  keep: keep ? 'always' : 'never',
  describeError: (error) => `\nDemo failed: ${(error as Error).message}`,
});
