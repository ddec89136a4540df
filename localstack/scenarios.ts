/**
 * npm run scenarios -- [files or directories…] [--json FILE] [--deploy] [--keep]
 *
 * Replays scenarios (DESIGN format; default: localstack/scenarios/) against
 * the local stack: starts the emulator and the knowledge database when none
 * is running, deploys the stack when it is missing (or with --deploy), plays
 * each scenario's world and symptoms, follows its incident through the
 * deployed agents, and reports per scenario and in total. Exit code 1 when a
 * scenario failed, 2 when the run itself could not proceed.
 */
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { createPool, type Pool } from '../shared/adapters/database.ts';
import { PostgresPerceptionStore } from '../shared/adapters/perception-store.ts';
import { deployLocal, localClientConfig, stackOutputs } from './deploy-local.ts';
import { ensureEmulator, ensureLocalDatabase, waitFor } from './harness.ts';
import {
  loadScenario,
  publicSuite,
  type Scenario,
  ScenarioFileError,
  scenarioFiles,
} from './scenario-format.ts';
import {
  followRemediation,
  type RemediationObserved,
  remediationWorld,
  settleAlarms,
} from './scenario-remediation.ts';
import { contraindications, judge } from './scenario-score.ts';
import {
  scenarioEvents,
  seedEcs,
  type WorldNames,
  worldNames,
  writeLogs,
  writeMetrics,
} from './scenario-world.ts';
import { runScript } from './script.ts';
import { percentile } from './stats.ts';

/** One scenario's result: the fields of `--json`. */
export interface ScenarioResult {
  name: string;
  file: string;
  passed: boolean;
  problems: string[];
  detected: boolean;
  incidentId: string | null;
  expectedRootCause: string;
  /** `expect.action` as a list (any of them is right); null when the scenario does not say. */
  expectedAction: string[] | null;
  firstActionCorrect: boolean;
  rootCause: string | null;
  rootCauseCorrect: boolean;
  confidence: number | null;
  claimedFault: boolean;
  component: string | null;
  insufficientEvidence: boolean;
  recommendedActions: string[];
  /** The first action the loop chose (`none`: it did nothing; `escalate`: straight to humans). */
  firstAction: string | null;
  /** Why the first action could not fix the failure (the scenario's mechanism, or the recorded facts); empty when it could. */
  contraindicated: string[];
  /** The mechanism the diagnosis named. */
  mechanism: string | null;
  /** Every step, in order. */
  actions: RemediationObserved['actions'];
  resolved: boolean;
  undoUsed: boolean;
  finalState: string | null;
  /** The closed incident was learned from (learn agent). */
  learned: boolean;
  /** Channels notified about it (notify agent). */
  notified: string[];
  policyViolations: string[];
  /** First signal recorded → the first action executed. */
  timeToActionMs: number | null;
  /** First signal recorded → resolved. */
  timeToResolveMs: number | null;
  provider: string | null;
  steps: number;
  tokens: { input: number; output: number };
  costUsd: number;
  gaps: string[];
  /** Symptoms on the bus → the incident's first signal recorded. */
  timeToDetectMs: number | null;
  /** The incident's first signal recorded → the diagnosis recorded. */
  timeToDiagnosisMs: number | null;
}

type ClientConfig = ReturnType<typeof localClientConfig>;

async function putEvents(config: ClientConfig, events: ReturnType<typeof scenarioEvents>): Promise<string[]> {
  const client = new EventBridgeClient(config);
  const ids: string[] = [];
  try {
    for (let i = 0; i < events.length; i += 10) {
      const out = await client.send(
        new PutEventsCommand({
          Entries: events.slice(i, i + 10).map((e) => ({
            Source: e.source,
            DetailType: e['detail-type'],
            Detail: JSON.stringify(e.detail),
            Resources: e.resources,
            Time: new Date(e.time),
          })),
        }),
      );
      if (out.FailedEntryCount)
        throw new Error(`the bus refused ${out.FailedEntryCount} events: ${JSON.stringify(out.Entries)}`);
      ids.push(...(out.Entries ?? []).map((e) => e.EventId ?? ''));
    }
    return ids;
  } finally {
    client.destroy();
  }
}

interface RunContext {
  config: ClientConfig;
  pool: Pool;
  registry: PostgresPerceptionStore;
  timeoutMs: number;
  approveFunctionName: string;
}

async function runScenario(file: string, scenario: Scenario, names: WorldNames, ctx: RunContext) {
  const { pool } = ctx;
  const arns = await seedEcs(ctx.config, scenario, names);
  await ctx.registry.registerService({
    cluster: names.cluster,
    service: names.service,
    alarmPrefixes: [names.alarmPrefix],
    allowedActions: [],
    minTasks: 1,
    maxTasks: 10,
    ...(await remediationWorld(ctx.config, pool, names, arns)),
  });
  try {
    const t0 = new Date();
    await writeMetrics(ctx.config, scenario, names, t0);
    await writeLogs(ctx.config, scenario, names, t0);
    await settleAlarms(ctx.config, scenario, names);
    const events = scenarioEvents(scenario, names, t0);
    const putAt = Date.now();
    const ids = await putEvents(ctx.config, events);
    // Every symptom recorded (or the deadline): only then is "no incident" an answer.
    await waitFor(
      'the perception agent to record every event',
      async () => {
        const { rows } = await pool.query(
          'SELECT count(*)::int AS n FROM signal_events WHERE event_id = ANY($1)',
          [ids],
        );
        return rows[0].n >= ids.length;
      },
      { timeoutMs: ctx.timeoutMs, intervalMs: 100 },
    ).catch(() => {});
    const incident = (
      await pool.query(
        `SELECT i.id, (SELECT min(s.received_at) FROM signals s WHERE s.incident_id = i.id) AS detected_at
           FROM incidents i WHERE i.cluster = $1 AND i.service = $2 ORDER BY i.opened_at LIMIT 1`,
        [names.cluster, names.service],
      )
    ).rows[0] as { id: string; detected_at: Date } | undefined;
    const diagnosis = incident
      ? await waitFor(
          'the diagnosis',
          async () =>
            (await pool.query('SELECT * FROM diagnoses WHERE incident_id = $1', [incident.id])).rows[0],
          { timeoutMs: ctx.timeoutMs, intervalMs: 100 },
        ).catch(() => undefined)
      : undefined;
    const top = diagnosis?.hypotheses?.[0] as
      | { rootCause: string; component: string; confidence: number }
      | undefined;
    const observed = {
      detected: Boolean(incident),
      diagnosis: diagnosis
        ? {
            rootCause: top?.rootCause ?? null,
            component: top?.component ?? null,
            confidence: top?.confidence ?? null,
            insufficientEvidence: Boolean(diagnosis.insufficient_evidence),
          }
        : null,
    };
    const remediation =
      incident && diagnosis
        ? await followRemediation(incident.id, new Date(incident.detected_at), scenario, names, ctx)
        : null;
    const verdict = judge(scenario, {
      ...observed,
      firstAction: remediation?.firstAction ?? 'none',
      policyViolations: remediation?.policyViolations ?? [],
    });
    // The registry row and world this runner made: bounds 1–10, every earlier revision steady.
    const contraindicated = contraindications(
      scenario,
      remediation?.firstAction ?? null,
      diagnosis?.judgement ?? null,
      {
        cluster: names.cluster,
        service: names.service,
        desiredCount: scenario.service.desiredCount,
        runningCount: scenario.service.desiredCount,
        minTasks: 1,
        maxTasks: 10,
        taskDefinition: null,
        lastKnownGood: arns.length > 1 ? 'earlier-revision' : null,
        memoryMiB: scenario.service.taskDefinitions.at(-1)?.memory ?? null,
        minimumHealthyPercent: 100,
        fallback: null,
        maintenanceTasks: [],
        secrets: [],
      },
    );
    if (contraindicated.length > 0)
      verdict.problems.push(
        `first action ${remediation?.firstAction} was contraindicated: ${contraindicated.join('; ')}`,
      );
    if (contraindicated.length > 0) verdict.passed = false;
    const detectedAt = incident?.detected_at ? new Date(incident.detected_at).getTime() : null;
    const result: ScenarioResult = {
      name: scenario.name,
      file,
      passed: verdict.passed,
      problems: verdict.problems,
      detected: observed.detected,
      incidentId: incident?.id ?? null,
      expectedRootCause: scenario.expect.rootCause,
      expectedAction: scenario.expect.action === undefined ? null : [scenario.expect.action].flat(),
      firstActionCorrect:
        scenario.expect.action === undefined ||
        ([scenario.expect.action].flat() as string[]).includes(remediation?.firstAction ?? 'none'),
      rootCause: observed.diagnosis?.rootCause ?? (incident ? null : 'no_fault'),
      rootCauseCorrect: verdict.rootCauseCorrect,
      confidence: observed.diagnosis?.confidence ?? null,
      claimedFault: verdict.claimedFault,
      component: observed.diagnosis?.component ?? null,
      insufficientEvidence: observed.diagnosis?.insufficientEvidence ?? false,
      recommendedActions: diagnosis?.recommended_actions ?? [],
      firstAction: remediation?.firstAction ?? 'none',
      contraindicated,
      mechanism: diagnosis?.judgement?.mechanism ?? null,
      actions: remediation?.actions ?? [],
      resolved: remediation?.resolved ?? false,
      undoUsed: remediation?.undoUsed ?? false,
      finalState: remediation?.finalState ?? null,
      learned: remediation?.learned ?? false,
      notified: remediation?.notified ?? [],
      policyViolations: remediation?.policyViolations ?? [],
      timeToActionMs: remediation?.timeToActionMs ?? null,
      timeToResolveMs: remediation?.timeToResolveMs ?? null,
      provider: diagnosis?.provider ?? null,
      steps: diagnosis?.steps ?? 0,
      tokens: { input: diagnosis?.input_tokens ?? 0, output: diagnosis?.output_tokens ?? 0 },
      costUsd: Number(diagnosis?.cost_usd ?? 0),
      gaps: ((diagnosis?.gaps ?? []) as { tool: string }[]).map((g) => g.tool),
      timeToDetectMs: detectedAt === null ? null : Math.max(0, detectedAt - putAt),
      timeToDiagnosisMs:
        detectedAt !== null && diagnosis ? new Date(diagnosis.completed_at).getTime() - detectedAt : null,
    };
    return result;
  } finally {
    await ctx.registry.unregisterService({ cluster: names.cluster, service: names.service });
  }
}

const seconds = (ms: number | null) => (ms === null ? '—' : `${(ms / 1000).toFixed(1)} s`);

function printResult(r: ScenarioResult) {
  const cause = r.rootCause
    ? `${r.rootCause}${r.confidence === null ? '' : ` (${r.confidence.toFixed(2)})`}`
    : '—';
  console.log(
    `${r.passed ? '✓' : '✗'} ${r.name.padEnd(34)} detected ${r.detected ? 'yes' : 'no '}  root cause ${cause.padEnd(30)} expected ${r.expectedRootCause.padEnd(21)} component ${(r.component ?? '—').padEnd(10)} first action ${(r.firstAction ?? '—').padEnd(26)} ${
      r.actions.length > 1
        ? `then ${r.actions
            .slice(1)
            .map((a) => a.action)
            .join(', ')}  `
        : ''
    }resolved ${r.resolved ? 'yes' : 'no '}  undo ${r.undoUsed ? 'yes' : 'no '}  steps ${r.steps}  tokens ${r.tokens.input + r.tokens.output}  diagnosis ${seconds(r.timeToDiagnosisMs)}`,
  );
  for (const problem of r.problems) console.log(`    ${problem}`);
}

function summary(results: ScenarioResult[]) {
  const faults = results.filter((r) => r.expectedRootCause !== 'no_fault');
  const controls = results.filter((r) => r.expectedRootCause === 'no_fault');
  const top1 = results.filter((r) => r.rootCauseCorrect).length;
  const times = results.flatMap((r) => (r.timeToDiagnosisMs === null ? [] : [r.timeToDiagnosisMs]));
  const detect = results.flatMap((r) => (r.timeToDetectMs === null ? [] : [r.timeToDetectMs]));
  const pct = (n: number, of: number) => (of === 0 ? '—' : `${((100 * n) / of).toFixed(0)}%`);
  console.log('');
  console.log(
    `root cause top-1: ${top1}/${results.length} (${pct(top1, results.length)}); faults ${faults.filter((r) => r.rootCauseCorrect).length}/${faults.length}; controls claiming a fault: ${controls.filter((r) => r.claimedFault).length}/${controls.length}`,
  );
  console.log(
    `time to detect p50 ${seconds(percentile(detect, 50))}, p95 ${seconds(percentile(detect, 95))}; time to diagnosis p50 ${seconds(percentile(times, 50))}, p95 ${seconds(percentile(times, 95))}; tokens ${results.reduce((n, r) => n + r.tokens.input + r.tokens.output, 0)}, max steps ${Math.max(0, ...results.map((r) => r.steps))}`,
  );
  const withAction = results.filter((r) => r.expectedAction !== null);
  const actionCorrect = withAction.filter((r) => r.firstActionCorrect).length;
  const acting = new Set(['none', 'escalate']);
  const controlActions = controls.filter((r) => r.actions.some((a) => !acting.has(a.action))).length;
  const toAction = results.flatMap((r) => (r.timeToActionMs === null ? [] : [r.timeToActionMs]));
  const toResolve = results.flatMap((r) => (r.timeToResolveMs === null ? [] : [r.timeToResolveMs]));
  console.log(
    `first action correct: ${actionCorrect}/${withAction.length} (${pct(actionCorrect, withAction.length)}); contraindicated first actions: ${results.filter((r) => r.contraindicated.length > 0).length}; actions on controls: ${controlActions}; policy violations: ${results.reduce((n, r) => n + r.policyViolations.length, 0)}; resolved ${results.filter((r) => r.resolved).length}; undo used ${results.filter((r) => r.undoUsed).length}`,
  );
  console.log(
    `time to action p50 ${seconds(percentile(toAction, 50))}, p95 ${seconds(percentile(toAction, 95))}; time to resolve p50 ${seconds(percentile(toResolve, 50))}, p95 ${seconds(percentile(toResolve, 95))}`,
  );
  const passed = results.filter((r) => r.passed).length;
  console.log(`${passed} passed, ${results.length - passed} failed`);
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      json: { type: 'string' },
      deploy: { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
      'timeout-seconds': { type: 'string', default: '60' },
    },
  });
  const files = scenarioFiles(positionals.length > 0 ? positionals : [publicSuite]);
  // Every file is checked before anything starts: a typo fails in a second, not after a deploy.
  const scenarios = files.map((file) => ({ file, scenario: loadScenario(file) }));
  if (scenarios.length === 0) throw new ScenarioFileError('no scenario files given');
  const log = (line: string) => console.log(`  ${line}`);
  const emulator = await ensureEmulator(log);
  const database = await ensureLocalDatabase(log);
  const pool = createPool({ url: database.url, wsProxy: database.wsProxy });
  try {
    let outputs = await stackOutputs(emulator.endpoint, 'Homeostat').catch(
      () => ({}) as Record<string, string>,
    );
    if (values.deploy || !outputs.ApproveFunctionName) {
      console.log('deploying the stack into the emulator (cdklocal) …');
      await deployLocal({ endpoint: emulator.endpoint, database, log });
      outputs = await stackOutputs(emulator.endpoint, 'Homeostat');
    }
    const ctx: RunContext = {
      config: localClientConfig(emulator.endpoint),
      pool,
      registry: new PostgresPerceptionStore(pool),
      timeoutMs: Number(values['timeout-seconds']) * 1000,
      approveFunctionName: outputs.ApproveFunctionName ?? '',
    };
    console.log(`running ${scenarios.length} scenarios\n`);
    const runId = randomUUID().slice(0, 6);
    const results: ScenarioResult[] = [];
    for (const [i, { file, scenario }] of scenarios.entries()) {
      const result = await runScenario(file, scenario, worldNames(scenario, `${runId}${i}`), ctx);
      printResult(result);
      results.push(result);
    }
    summary(results);
    if (values.json) writeFileSync(values.json, `${JSON.stringify(results, null, 2)}\n`);
    return results.every((r) => r.passed) ? 0 : 1;
  } finally {
    await pool.end();
  }
}

// Only when run as a script: importing this module (for its types) must start nothing. What the run
// started (emulator, database) is stopped on every way out unless --keep.
runScript(import.meta.url, main, {
  keep: process.argv.includes('--keep') ? 'always' : 'never',
  describeError: (error) =>
    `scenarios: ${error instanceof ScenarioFileError ? error.message : (error as Error).stack}`,
});
