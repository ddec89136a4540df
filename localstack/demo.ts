/**
 * npm run demo — the local loop as far as it exists today: bring up the emulator
 * and the knowledge database, deploy the stack, register a sample ECS service,
 * fire a CloudWatch alarm, and show each step the event takes.
 * Stops what it started unless run with --keep.
 */
import { ECSClient } from '@aws-sdk/client-ecs';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { createPool } from '../shared/adapters/database.ts';
import { ecsMetricAlarmEvent } from '../shared/testing/alarm-events.ts';
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

console.log('Homeostat demo — alarm → perception agent → ECS → Postgres → homeostat bus, all local');

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
  step('Deploy the CDK app into the emulator (cdklocal bootstrap + deploy)');
  await deployLocal({ endpoint: emulator.endpoint, database, log: detail });
  const outputs = await stackOutputs(emulator.endpoint, 'Homeostat');
  detail(`bus ${outputs.BusName}; perception agent ${outputs.PerceptionFunctionName}`);
  detail('the migrator trigger applied migrations/ during the deploy');

  const config = localClientConfig(emulator.endpoint);
  const cluster = uniqueName('shop');
  step(`Register a sample ECS service ${cluster}/api with 3 tasks`);
  const taskDefinition = await createEcsService(new ECSClient(config), cluster, 'api', 3);
  detail(`task definition ${taskDefinition}`);

  const capture = await captureEvents(config, outputs.BusName ?? 'homeostat', 'signal.received');
  step('Play CloudWatch: put an "api-memory-high" ALARM state change on the default bus');
  const alarm = ecsMetricAlarmEvent({ cluster, service: 'api', alarmName: 'api-memory-high' });
  const put = await new EventBridgeClient(config).send(
    new PutEventsCommand({
      Entries: [
        { Source: alarm.source, DetailType: alarm['detail-type'], Detail: JSON.stringify(alarm.detail) },
      ],
    }),
  );
  const eventId = put.Entries?.[0]?.EventId ?? '';
  detail(`event ${eventId}: MemoryUtilization above 90% on ClusterName=${cluster}, ServiceName=api`);

  step('Perception agent (Lambda) resolved the service in ECS and recorded the signal in Postgres');
  const pool = createPool({ url: database.url, wsProxy: database.wsProxy });
  const row = await waitFor(
    'the signal row',
    async () =>
      (
        await pool.query(
          'SELECT id, name, state, cluster, service, service_snapshot, received_at FROM signals WHERE id = $1',
          [eventId],
        )
      ).rows[0],
    { timeoutMs: 60_000 },
  );
  await pool.end();
  detail(`signals row: ${row.name} ${row.state} on ${row.cluster}/${row.service}`);
  detail(`ECS snapshot: ${JSON.stringify(row.service_snapshot)}`);

  step('signal.received published on the homeostat bus');
  const envelope = await capture.next<Record<string, unknown>>((d) => d.causationId === eventId, 60_000);
  await capture.dispose();
  for (const line of JSON.stringify(envelope, null, 2).split('\n')) detail(line);

  console.log(`\nDone in ${elapsed().trim()}. Where to look next:`);
  console.log('  • agent logs: .local/emulator.log (the emulator runs the Lambdas)');
  console.log(
    '  • the knowledge database: npm run local:up, then psql "postgres://postgres:postgres@127.0.0.1:54329/postgres"',
  );
  console.log('  • the tests: npm test   • deploy to AWS: see README.md');
} catch (error) {
  console.error(`\nDemo failed: ${(error as Error).message}`);
  process.exitCode = 1;
} finally {
  await cleanup();
}
