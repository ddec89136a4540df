/**
 * Alarm storm through the perception use-case on PGlite (Neon driver, proxy):
 * 10,000 signals across 50 services — repeats, ALARM/OK flaps, correlated
 * bursts of task failures and deployments — and what came out of it.
 */
import { PostgresPerceptionStore } from '../shared/adapters/perception-store.ts';
import type { Clock } from '../shared/domain/ports.ts';
import { ecsMetricAlarmEvent } from '../shared/testing/alarm-events.ts';
import { deploymentEvent, serviceActionEvent, taskStoppedEvent } from '../shared/testing/ecs-events.ts';
import { FakeAlarmTags, FakeBus, FakeCounters, FakeEcs, watched } from '../shared/testing/fakes.ts';
import { perceiveBatch } from '../shared/usecases/perceive.ts';
import { startMigratedDatabase } from './migrate-local.ts';
import { percentile } from './stats.ts';

export interface StormReport {
  signals: number;
  services: number;
  batchSize: number;
  concurrency: number;
  seconds: number;
  signalsPerSecond: number;
  incidents: number;
  reductionPercent: number;
  p50Ms: number;
  p99Ms: number;
  lost: number;
  outcomes: Record<string, number>;
  /** Batch transactions retried (conflicts with a concurrent batch, transient errors). */
  retries: number;
}

/** A deterministic storm: the same sequence every run (seeded). */
function stormEvents(count: number, services: number, start: Date) {
  let seed = 42;
  const random = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const events: unknown[] = [];
  for (let i = 0; i < count; i++) {
    // Bursts: most signals hit a few services at a time, as real storms do.
    const burst = Math.floor(i / 500);
    const svc = `svc-${(burst * 7 + Math.floor(random() * 5)) % services}`;
    const ref = { cluster: 'storm', service: svc };
    const time = new Date(start.getTime() + i * 40);
    const r = random();
    if (r < 0.5)
      events.push(ecsMetricAlarmEvent({ ...ref, alarmName: `${svc}-cpu-high`, state: 'ALARM', time }));
    else if (r < 0.6)
      events.push(ecsMetricAlarmEvent({ ...ref, alarmName: `${svc}-cpu-high`, state: 'OK', time }));
    else if (r < 0.85) events.push(taskStoppedEvent({ ...ref, time }));
    else if (r < 0.9) events.push(deploymentEvent({ ...ref, time }));
    else if (r < 0.95) events.push(serviceActionEvent({ ...ref, time }));
    else
      events.push(
        taskStoppedEvent({
          ...ref,
          stopCode: 'ServiceSchedulerInitiated',
          stoppedReason: `Scaling activity initiated by (deployment ecs-svc/${i})`,
          exitCode: 0,
          containerReason: '',
          time,
        }),
      );
  }
  return events as { id: string }[];
}

/**
 * Events go through perceiveBatch in batches, as the perception queue hands
 * them to the Lambda (batch size = the event source mapping's), with
 * `concurrency` batches in flight as concurrent Lambdas would. A signal's
 * decision latency is its batch's: from receipt to recorded and published.
 */
export async function runStorm({
  signals = 10_000,
  services = 50,
  concurrency = 2,
  batchSize = 100,
} = {}): Promise<StormReport> {
  const { pool, stop } = await startMigratedDatabase();
  try {
    let retries = 0;
    const store = new PostgresPerceptionStore(pool, { onRetry: () => retries++ });
    for (let s = 0; s < services; s++) await store.registerService(watched('storm', `svc-${s}`));
    const start = new Date('2026-11-20T10:00:00Z');
    const events = stormEvents(signals, services, start);
    let now = start;
    const clock: Clock = { now: () => now };
    const deps = {
      store,
      clock,
      bus: new FakeBus(),
      ecs: new FakeEcs(),
      alarmTags: new FakeAlarmTags(),
      counters: new FakeCounters(),
    };
    const latencies: number[] = [];
    const outcomes: Record<string, number> = {};
    let next = 0;
    const began = performance.now();
    const worker = async () => {
      while (next < events.length) {
        const batch = events.slice(next, next + batchSize) as { id: string; time?: string }[];
        next += batch.length;
        for (const event of batch)
          now = new Date(Math.max(now.getTime(), Date.parse(event.time ?? '') || now.getTime()));
        const t = performance.now();
        const items = await perceiveBatch(batch, deps);
        const took = performance.now() - t;
        for (const item of items) {
          latencies.push(took);
          const outcome = item.ok ? item.result.outcome : 'rejected';
          outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
        }
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    const seconds = (performance.now() - began) / 1000;
    const ids = events.map((e) => e.id);
    const recorded = await pool.query(
      'SELECT count(*)::int AS n FROM signal_events WHERE event_id = ANY($1)',
      [ids],
    );
    const incidents = await pool.query("SELECT count(*)::int AS n FROM incidents WHERE cluster = 'storm'");
    latencies.sort((a, b) => a - b);
    const incidentCount = incidents.rows[0]?.n ?? 0;
    return {
      signals,
      services,
      batchSize,
      concurrency,
      seconds,
      signalsPerSecond: signals / seconds,
      incidents: incidentCount,
      reductionPercent: 100 * (1 - incidentCount / signals),
      p50Ms: percentile(latencies, 50),
      p99Ms: percentile(latencies, 99),
      lost: signals - (recorded.rows[0]?.n ?? 0),
      outcomes,
      retries,
    };
  } finally {
    await stop();
  }
}
