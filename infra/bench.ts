/**
 * npm run bench — per agent: minified bundle size (the deployed bundle) against its
 * recorded budget (infra/bundle-budgets.json, enforced by bundle-budget.test.ts) and the
 * cold module-load time (a fresh `node` importing the bundle), median of N runs.
 * Target at this stage: ≤ 250 KB per function.
 */
import { execFileSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { runScript } from '../localstack/script.ts';
import { buildAgent } from './build-functions.ts';
import { budgetProblem, readBudgets } from './bundle-budget.ts';
import { agentNames } from './bundling.ts';
import { perceptionBatch } from './constructs/perception-agent.ts';

const runs = Number(process.env.BENCH_RUNS ?? 15);
const targetKb = 250;

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
};

/** Time to import the bundle in a fresh process, measured inside it (excludes node's own start-up). */
function coldImportMs(file: string): number {
  const script = `const t=performance.now();await import(${JSON.stringify(pathToFileURL(file).href)});console.log(performance.now()-t)`;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
    env: { ...process.env, AWS_REGION: 'us-east-1', POWERTOOLS_DEV: 'false' },
  });
  return Number(out.toString().trim());
}

async function main(): Promise<void> {
  console.log(`Homeostat bench — node ${process.version}, ${runs} cold imports per agent\n`);
  const { budgets } = readBudgets();
  console.log(
    'agent       bundle KB   target   budget KB   cold import ms (median / min / max)   largest packages',
  );
  let over = 0;
  let overBudget = 0;
  for (const agent of agentNames) {
    const built = await buildAgent(agent);
    const times = Array.from({ length: runs }, () => coldImportMs(built.file));
    const kb = built.bytes / 1024;
    if (kb > targetKb) over += 1;
    const budget = budgets[agent];
    const budgetKb = budget === undefined ? 'none' : (budget / 1024).toFixed(0);
    const budgetMark = budgetProblem(agent, built.bytes, budgets) ? ' !' : '  ';
    if (budgetMark !== '  ') overBudget += 1;
    const top = Object.entries(built.byPackage)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 4)
      .map(([pkg, bytes]) => `${pkg} ${(bytes / 1024).toFixed(0)}K`)
      .join(', ');
    console.log(
      `${agent.padEnd(10)} ${kb.toFixed(1).padStart(9)}   ${kb <= targetKb ? '  ok  ' : ' OVER '}   ${budgetKb.padStart(9)}${budgetMark}   ${median(times).toFixed(1).padStart(8)} / ${Math.min(...times).toFixed(1)} / ${Math.max(...times).toFixed(1)}`.padEnd(
        100,
      ) + top,
    );
  }
  console.log(
    `\n${agentNames.length - over} of ${agentNames.length} bundles within ${targetKb} KB; ${agentNames.length - overBudget} within their recorded budget${overBudget > 0 ? ' (! = over budget or none: npm run bundle:budgets)' : ''}`,
  );

  // Alarm storm through the perception use-case against PGlite (targets: ≥ 1,000 signals/s,
  // ≥ 95% reduction, p99 ≤ 100 ms, 0 lost). BENCH_STORM_SIGNALS=0 skips it.
  const stormSignals = Number(process.env.BENCH_STORM_SIGNALS ?? 10_000);
  if (stormSignals > 0) {
    const { runStorm } = await import('../localstack/bench-storm.ts');
    const batchSize = Number(process.env.BENCH_STORM_BATCH ?? perceptionBatch.size);
    console.log(
      `\nAlarm storm: ${stormSignals} signals across 50 services through perceiveBatch() on PGlite (batches of ${batchSize}, 2 in flight)…`,
    );
    const r = await runStorm({ signals: stormSignals, services: 50, concurrency: 2, batchSize });
    const mark = (ok: boolean) => (ok ? 'ok' : 'BELOW TARGET');
    console.log(
      `  throughput       ${r.signalsPerSecond.toFixed(0).padStart(7)} signals/s   (${r.seconds.toFixed(1)} s)   ${mark(r.signalsPerSecond >= 1000)}`,
    );
    console.log(
      `  incidents        ${String(r.incidents).padStart(7)}   storm reduction ${r.reductionPercent.toFixed(2)}%   ${mark(r.reductionPercent >= 95)}`,
    );
    console.log(
      `  decision latency ${r.p50Ms.toFixed(1).padStart(7)} ms p50   ${r.p99Ms.toFixed(1)} ms p99   ${mark(r.p99Ms <= 100)}`,
    );
    console.log(`  lost signals     ${String(r.lost).padStart(7)}   ${mark(r.lost === 0)}`);
    console.log(`  outcomes         ${JSON.stringify(r.outcomes)}   batch retries ${r.retries}`);
  }

  // Knowledge retrieval (targets: recall@10 ≥ 0.95; p99 ≤ 20 ms at 100k on native Postgres).
  // PGlite: 10,000 items; DATABASE_URL set (a scratch native Postgres): 100,000. BENCH_RETRIEVAL_ITEMS=0 skips it.
  const retrievalItems = Number(
    process.env.BENCH_RETRIEVAL_ITEMS ?? (process.env.DATABASE_URL ? 100_000 : 10_000),
  );
  if (retrievalItems > 0) {
    const { runRetrieval } = await import('../localstack/bench-retrieval.ts');
    const where = process.env.DATABASE_URL ? 'DATABASE_URL' : 'PGlite';
    console.log(
      `\nKnowledge retrieval: ${retrievalItems} items of 1024-d on ${where}, 200 queries, HNSW vs exact scan…`,
    );
    const r = await runRetrieval({ items: retrievalItems, queries: 200 });
    const mark = (ok: boolean) => (ok ? 'ok' : 'BELOW TARGET');
    console.log(
      `  ingestion        ${r.itemsPerSecond.toFixed(0).padStart(7)} items/s   (${r.loadSeconds.toFixed(1)} s, index not yet built)`,
    );
    console.log(`  HNSW build       ${r.indexBuildSeconds.toFixed(1).padStart(7)} s`);
    console.log(`  recall@10        ${r.recallAt10.toFixed(3).padStart(7)}   ${mark(r.recallAt10 >= 0.95)}`);
    console.log(
      `  query latency    ${r.p50Ms.toFixed(1).padStart(7)} ms p50   ${r.p99Ms.toFixed(1)} ms p99   (exact scan p50 ${r.exactP50Ms.toFixed(1)} ms; index used: ${r.usesIndex ? 'yes' : 'NO'})${where === 'PGlite' ? '' : `   ${mark(r.p99Ms <= 20)}`}`,
    );
  }

  // Remediation latency, warm, in process on the emulator and PGlite: diagnosis in → plan → act →
  // ECS UpdateService accepted (target p50 ≤ 300 ms). BENCH_ACTION_RUNS=0 skips it.
  const actionRuns = Number(process.env.BENCH_ACTION_RUNS ?? 30);
  if (actionRuns > 0) {
    const [{ runActionBench }, { ensureEmulator }] = await Promise.all([
      import('../localstack/bench-action.ts'),
      import('../localstack/harness.ts'),
    ]);
    console.log(
      `\nRemediation: diagnosis in → plan → act → UpdateService accepted, ${actionRuns} warm runs…`,
    );
    // An emulator started here is stopped by runScript.
    const emulator = await ensureEmulator(() => {});
    const r = await runActionBench({ endpoint: emulator.endpoint, runs: actionRuns });
    const mark = (ok: boolean) => (ok ? 'ok' : 'ABOVE TARGET');
    console.log(
      `  to UpdateService ${r.p50Ms.toFixed(1).padStart(7)} ms p50   ${r.p99Ms.toFixed(1)} ms p99   ${mark(r.p50Ms <= 300)}`,
    );
    console.log(
      `  emulator share   ${r.emulatorP50Ms.toFixed(1).padStart(7)} ms p50 (${r.emulatorSharePercent.toFixed(0)}% of the path; the rest is our code and Postgres)`,
    );
  }
}

runScript(import.meta.url, main);
