/**
 * npm run demo — the local loop as far as it exists today: bring up the emulator
 * and the knowledge database, deploy the stack, register a sample ECS service,
 * play an OOM (two killed tasks and a memory alarm), and show each step: the
 * incident, its diagnosis with the evidence it cites, the recovery.
 * Stops what it started unless run with --keep.
 */
import { ECSClient } from '@aws-sdk/client-ecs';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { createPool } from '../shared/adapters/database.ts';
import { PostgresPerceptionStore } from '../shared/adapters/perception-store.ts';
import { ecsMetricAlarmEvent } from '../shared/testing/alarm-events.ts';
import { taskStoppedEvent } from '../shared/testing/ecs-events.ts';
import { watched } from '../shared/testing/fakes.ts';
import { deployLocal, localClientConfig, stackOutputs } from './deploy-local.ts';
import { captureEvents, createEcsService, uniqueName } from './fixtures.ts';
import {
  ensureEmulator,
  ensureLocalDatabase,
  readLocalDbState,
  stopLocalDatabase,
  stopRecorded,
  waitFor,
} from './harness.ts';

const keep = process.argv.includes('--keep');
const started = Date.now();
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)}s`.padStart(6);
let stepNo = 0;
const step = (title: string) => console.log(`\n[${elapsed()}] ${++stepNo}. ${title}`);
const detail = (line: string) => console.log(`          ${line}`);

console.log(
  'Homeostat demo — alarms and ECS events → perception → one incident in Postgres → diagnosis with cited evidence, all local',
);

step('Local AWS emulator');
const hadDatabase = readLocalDbState() !== undefined;
const emulator = await ensureEmulator(detail);
detail(`${emulator.started ? 'started MiniStack' : 'reusing the emulator'} at ${emulator.endpoint}`);

step('Knowledge database (PGlite + pgvector behind the Neon WebSocket proxy)');
const database = await ensureLocalDatabase(detail);
detail(`${database.url} via ws://${database.wsProxy}`);

const cleanup = async () => {
  if (keep) {
    console.log('\nLeft running (--keep). Stop with: npm run local:down');
    return;
  }
  if (emulator.started) await stopRecorded('emulator');
  if (!hadDatabase) await stopLocalDatabase();
  console.log(`\nStopped what the demo started. Run with --keep to leave it running.`);
};

try {
  const cluster = uniqueName('shop');
  step(`Deploy the CDK app into the emulator (cdklocal bootstrap + deploy), watching ${cluster}/api`);
  // The standard alarms use metric math, which MiniStack's CloudFormation lacks: register only.
  await deployLocal({
    endpoint: emulator.endpoint,
    database,
    log: detail,
    watchedServices: [{ cluster, service: 'api', standardAlarms: false }],
  });
  const outputs = await stackOutputs(emulator.endpoint, 'Homeostat');
  detail(`bus ${outputs.BusName}; perception agent ${outputs.PerceptionFunctionName}`);
  const registry = createPool({ url: database.url, wsProxy: database.wsProxy });
  const perception = new PostgresPerceptionStore(registry);
  if (await perception.watchedService({ cluster, service: 'api' })) {
    detail('the migrator trigger applied migrations/ and registered the watched service during the deploy');
  } else {
    // MiniStack does not re-run a CDK Trigger when an existing stack is updated (a fresh deploy does).
    await perception.registerService(watched(cluster, 'api'));
    detail('the emulator skipped the migrator trigger on this stack update: registered the service directly');
  }
  await registry.end();

  const config = localClientConfig(emulator.endpoint);
  step(`Create the sample ECS service ${cluster}/api with 3 tasks in the emulator`);
  const taskDefinition = await createEcsService(new ECSClient(config), cluster, 'api', 3);
  detail(`task definition ${taskDefinition}`);

  const capture = await captureEvents(config, outputs.BusName ?? 'homeostat', 'incident.opened');
  const events = new EventBridgeClient(config);
  const put = async (event: { source: string; 'detail-type': string; detail: unknown }) => {
    const out = await events.send(
      new PutEventsCommand({
        Entries: [
          { Source: event.source, DetailType: event['detail-type'], Detail: JSON.stringify(event.detail) },
        ],
      }),
    );
    return out.Entries?.[0]?.EventId ?? '';
  };
  step('Play ECS and CloudWatch: two OOM-killed tasks and the "api-memory-high" alarm, on the default bus');
  const first = await put(taskStoppedEvent({ cluster, service: 'api' }));
  const second = await put(taskStoppedEvent({ cluster, service: 'api' }));
  const alarm = ecsMetricAlarmEvent({ cluster, service: 'api', alarmName: 'api-memory-high' });
  const eventId = await put(alarm);
  detail(`events ${first}, ${second}: tasks stopped, exit code 137, OutOfMemoryError`);
  detail(`event ${eventId}: MemoryUtilization above 90% on ClusterName=${cluster}, ServiceName=api`);

  step('Perception agent (Lambda) opened one incident in Postgres, with the ECS snapshot');
  const pool = createPool({ url: database.url, wsProxy: database.wsProxy });
  const signalRow = (id: string) =>
    waitFor(
      'the signal row',
      async () => (await pool.query('SELECT * FROM signals WHERE id = $1', [id])).rows[0],
      { timeoutMs: 60_000 },
    );
  const row = await signalRow(first);
  await waitFor(
    'the repeat to be counted',
    async () => (await pool.query('SELECT 1 FROM signal_events WHERE event_id = $1', [second])).rows[0],
  );
  await signalRow(eventId);
  const incident = (await pool.query('SELECT * FROM incidents WHERE id = $1', [row.incident_id])).rows[0];
  const oom = (await pool.query('SELECT occurrences FROM signals WHERE id = $1', [first])).rows[0];
  detail(`incident ${incident.id}: "${incident.title}", fingerprint ${row.fingerprint}`);
  detail(
    `the second OOM counted as a repeat (occurrences ${oom.occurrences}); the alarm joined the incident`,
  );
  detail(`ECS snapshot: ${JSON.stringify(incident.service_snapshot)}`);

  step('incident.opened published on the homeostat bus');
  const envelope = await capture.next<Record<string, unknown>>((d) => d.incidentId === incident.id, 60_000);
  await capture.dispose();
  detail(`${envelope.type} ${envelope.id} from ${envelope.source}`);

  step(
    'Diagnosis agent (Lambda): evidence from ECS, metrics, logs, signals and knowledge → cited hypotheses',
  );
  const diagnosis = await waitFor(
    'the diagnosis',
    async () => (await pool.query('SELECT * FROM diagnoses WHERE incident_id = $1', [incident.id])).rows[0],
    { timeoutMs: 60_000 },
  );
  for (const h of diagnosis.hypotheses as {
    rootCause: string;
    confidence: number;
    evidenceIds: string[];
    explanation: string;
  }[])
    detail(`${h.rootCause} (${h.confidence}): ${h.explanation} — cites ${h.evidenceIds.join(', ')}`);
  for (const e of diagnosis.evidence as { id: string; summary: string }[])
    detail(`evidence ${e.id}: ${e.summary.slice(0, 110)}`);
  for (const g of diagnosis.gaps as { tool: string; reason: string }[]) detail(`gap ${g.tool}: ${g.reason}`);
  detail(
    `recommended ${diagnosis.recommended_actions.join(' → ')}; ${diagnosis.provider} provider, ${diagnosis.steps} model calls, ${diagnosis.input_tokens + diagnosis.output_tokens} tokens, $${Number(diagnosis.cost_usd).toFixed(4)}, ${new Date(diagnosis.completed_at).getTime() - new Date(diagnosis.started_at).getTime()} ms`,
  );

  step('Play CloudWatch: the alarm back to OK');
  const ok = await put(
    ecsMetricAlarmEvent({
      cluster,
      service: 'api',
      alarmName: 'api-memory-high',
      state: 'OK',
      previousState: 'ALARM',
    }),
  );
  await signalRow(ok);
  const after = (
    await pool.query('SELECT signal_count, state, recovery_seen_at FROM incidents WHERE id = $1', [
      incident.id,
    ])
  ).rows[0];
  detail(
    `incident ${after.state}, ${after.signal_count} signals; recovery seen at ${new Date(after.recovery_seen_at).toISOString()}: self-resolves after 10 quiet minutes unless it fires again (remediation comes next)`,
  );
  const timeline = await pool.query(
    'SELECT kind, detail FROM incident_timeline WHERE incident_id = $1 ORDER BY id',
    [incident.id],
  );
  for (const entry of timeline.rows)
    detail(
      `timeline: ${entry.kind} ${entry.detail.name ?? entry.detail.rootCause ?? ''} ${entry.detail.classification ?? ''}`,
    );
  await pool.end();

  console.log(`\nDone in ${elapsed().trim()}. Where to look next:`);
  console.log('  • agent logs: .local/emulator.log (the emulator runs the Lambdas)');
  console.log(
    '  • the knowledge database: npm run local:up, then psql "postgres://postgres:postgres@127.0.0.1:54329/postgres"',
  );
  console.log('  • score the diagnosis on the public scenario suite: npm run scenarios');
  console.log('  • the tests: npm test   • deploy to AWS: see README.md');
} catch (error) {
  console.error(`\nDemo failed: ${(error as Error).message}`);
  process.exitCode = 1;
} finally {
  await cleanup();
  // The database driver's WebSocket keeps the event loop alive after pool.end().
  process.exit();
}
