import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { projectRoot } from './harness.ts';
import type { ScenarioResult } from './scenarios.ts';
import { percentile } from './stats.ts';
import { emulatorEndpoint } from './testing.ts';

const run = promisify(execFile);

/** `npm run scenarios -- <args> --json FILE` as a user runs it: its results and output (summary echoed to the log). */
async function runScenarios(args: string[]): Promise<{ results: ScenarioResult[]; stdout: string }> {
  const json = join(mkdtempSync(join(tmpdir(), 'scenarios-')), 'results.json');
  const out = await run(
    process.execPath,
    ['--import', 'tsx', join(projectRoot, 'localstack', 'scenarios.ts'), ...args, '--json', json],
    {
      cwd: projectRoot,
      env: { ...process.env, AWS_ENDPOINT_URL: emulatorEndpoint() },
      maxBuffer: 10 * 1024 * 1024,
    },
  ).catch((error: { stdout?: string; code?: number }) => {
    // Exit code 1 means "some scenario failed": the targets decide; anything else is a broken run.
    if (error.code !== 1) throw error;
    return { stdout: error.stdout ?? '' };
  });
  // The runner's own summary, for whoever reads the CI log.
  console.log(out.stdout.split('\n').slice(-6).join('\n'));
  return { results: JSON.parse(readFileSync(json, 'utf8')) as ScenarioResult[], stdout: out.stdout };
}

/**
 * The quality bar, through `npm run scenarios` as a user runs it: the
 * runner deploys the stack into the test emulator, replays the public suite
 * through the deployed agents with the offline provider, and reports.
 */
describe('the public scenario suite (offline diagnosis)', () => {
  let results: ScenarioResult[];
  let stdout: string;

  beforeAll(async () => {
    ({ results, stdout } = await runScenarios(['--deploy']));
  });

  it('covers every root cause of the taxonomy, with no-fault controls and red herrings', () => {
    expect(results.length).toBeGreaterThanOrEqual(12);
    expect(new Set(results.map((r) => r.expectedRootCause)).size).toBe(12);
    expect(results.filter((r) => r.expectedRootCause === 'no_fault').length).toBeGreaterThanOrEqual(2);
    expect(results.some((r) => r.name.startsWith('red-herring'))).toBe(true);
    // The seven real field cases (../shared/field-cases) are part of the public suite.
    expect(results.filter((r) => /^f\d\d-/.test(r.name)).length).toBe(7);
  });

  it('names the root cause first in at least 95% of scenarios', () => {
    const correct = results.filter((r) => r.rootCauseCorrect).length;
    expect(correct / results.length).toBeGreaterThanOrEqual(0.95);
  });

  it('never claims a fault with confidence ≥ 0.5 on a no-fault control', () => {
    const controls = results.filter((r) => r.expectedRootCause === 'no_fault');
    expect(controls.filter((r) => r.claimedFault).map((r) => r.name)).toEqual([]);
  });

  it('diagnoses within 2 s at the median, offline: no model steps, no tokens, no cost', () => {
    const times = results.flatMap((r) => (r.timeToDiagnosisMs === null ? [] : [r.timeToDiagnosisMs]));
    expect(times.length).toBeGreaterThan(0);
    expect(percentile(times, 50)).toBeLessThanOrEqual(2_000);
    for (const r of results) {
      expect(r.provider === null || r.provider === 'offline').toBe(true);
      expect(r.steps).toBe(0);
      expect(r.tokens).toEqual({ input: 0, output: 0 });
    }
  });

  it('takes the correct first action in at least 95% of scenarios, and never a contraindicated one', () => {
    const judged = results.filter((r) => r.expectedAction !== null);
    expect(judged.length).toBe(results.length);
    expect(judged.filter((r) => r.firstActionCorrect).length / judged.length).toBeGreaterThanOrEqual(0.95);
    expect(results.filter((r) => r.contraindicated.length > 0).map((r) => r.name)).toEqual([]);
  });

  it('takes no action on a no-fault control and violates the policy nowhere', () => {
    const controls = results.filter((r) => r.expectedRootCause === 'no_fault');
    expect(controls.flatMap((r) => r.actions.map((a) => `${r.name}: ${a.action}`))).toEqual([]);
    expect(results.flatMap((r) => r.policyViolations)).toEqual([]);
  });

  it('closes the loop through Scheduler-fired verification: resolves some incidents, undoes what made things worse', () => {
    // The runner plays "recovers" for most fixes: verification (a one-time schedule firing the
    // verify agent) resolves them; "worse" and "no_effect" are undone from the snapshot.
    expect(results.filter((r) => r.resolved).length).toBeGreaterThanOrEqual(8);
    // Undo: a step judged worse or no better, put back from its snapshot (latency-degradation and
    // capacity-shortfall declare such answers; either suffices — the emulator does not retry a
    // failed asynchronous invocation as Lambda does, which the integration tests cover without it).
    const undone = results.flatMap((r) => r.actions.filter((a) => a.undone));
    expect(undone.length).toBeGreaterThan(0);
    for (const a of undone) expect(['worse', 'no_effect']).toContain(a.status);
    const resolvedTimes = results.flatMap((r) => (r.timeToResolveMs === null ? [] : [r.timeToResolveMs]));
    expect(resolvedTimes.length).toBeGreaterThan(0);
  });

  it('learns from every closed incident and keeps one notification per incident on the SNS channel', () => {
    const closed = results.filter((r) =>
      ['resolved', 'self_resolved', 'escalated', 'failed'].includes(r.finalState ?? ''),
    );
    expect(closed.length).toBeGreaterThanOrEqual(8);
    // ≥ 90% rather than all: the emulator does not retry a failed asynchronous invocation as Lambda does.
    expect(closed.filter((r) => r.learned).length / closed.length).toBeGreaterThanOrEqual(0.9);
    const detected = results.filter((r) => r.detected);
    expect(
      detected.filter((r) => r.notified.includes('sns')).length / detected.length,
    ).toBeGreaterThanOrEqual(0.9);
  });

  it('reports every field per scenario and ends with the pass/fail line', () => {
    for (const r of results) {
      for (const field of [
        'name',
        'passed',
        'detected',
        'rootCause',
        'component',
        'firstAction',
        'actions',
        'resolved',
        'undoUsed',
        'policyViolations',
        'timeToActionMs',
        'timeToResolveMs',
        'steps',
        'tokens',
        'timeToDiagnosisMs',
      ])
        expect(r).toHaveProperty(field);
    }
    const passed = results.filter((r) => r.passed).length;
    expect(stdout.trim().split('\n').at(-1)).toBe(`${passed} passed, ${results.length - passed} failed`);
  });
});

/**
 * The unseen sets (localstack/scenarios-unseen and -2: each built by a fresh helper from
 * public reports the team had not read, never tuned to) runs in the suite and
 * is scored apart: no accuracy bar here (tuning to it would spoil it; its
 * figures go in the closing notes), but every executed action still passed the policy.
 */
describe('the unseen scenario set (scored apart)', () => {
  let results: ScenarioResult[];
  let files: string[];

  beforeAll(async () => {
    // Two blind sets, each written by a fresh helper: u* (issue 17) and v* (issue 18's round).
    const dirs = ['scenarios-unseen', 'scenarios-unseen-2'].map((d) => join(projectRoot, 'localstack', d));
    files = dirs.flatMap((dir) => readdirSync(dir).filter((f) => f.endsWith('.json')));
    ({ results } = await runScenarios(dirs));
  });

  it('scores every unseen scenario (at least five, from reports outside the team)', () => {
    expect(files.length).toBeGreaterThanOrEqual(5);
    expect(results.map((r) => `${r.name}.json`).sort()).toEqual([...files].sort());
  });

  it('violates the policy nowhere: every executed action had an audited decision allowing it', () => {
    expect(results.flatMap((r) => r.policyViolations)).toEqual([]);
  });
});
