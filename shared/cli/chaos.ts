/**
 * `homeostat chaos run <experiment> [--dry-run]` asks the deployed chaos agent
 * to run a configured experiment now — through the same guardrails as a
 * schedule; `homeostat chaos list` shows the period's runs and game-day scores.
 */
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { type GameDayRecord, summarizeGameDays } from '../domain/chaos.ts';
import { formatDuration } from '../domain/narrative.ts';
import type { ChaosRunRequest } from '../events/chaos-commands.ts';
import type { RunResult } from '../usecases/chaos.ts';
import { type CliOutput, parseSince, sinceError, table } from './operate.ts';

export const chaosUsage = `  chaos run <experiment> [--dry-run] [--json]
                                     run a configured chaos experiment now (same guardrails as its
                                     schedule); --dry-run checks them and shows the change, changes nothing
  chaos list [--since 7d] [--json]   experiment runs, refusals and game-day scores
`;

export interface ChaosCliDeps {
  /** Invokes the deployed chaos agent and returns its answer. */
  invoke(request: ChaosRunRequest): Promise<RunResult>;
  records(since: Date, until: Date): Promise<GameDayRecord[]>;
  user: string;
  now?: Date;
}

const ms = (value: number | null | undefined) =>
  value === null || value === undefined ? '-' : formatDuration(value);
const pct = (share: number | null) => (share === null ? '-' : `${Math.round(share * 100)}%`);
const yesNo = (value: boolean | null | undefined) =>
  value === null || value === undefined ? '-' : value ? 'yes' : 'no';

/** The game days as a table and a summary line (also used by `homeostat report`). */
export function gameDayText(records: readonly GameDayRecord[]): string {
  if (records.length === 0) return 'No chaos experiment ran in this period.\n';
  const s = summarizeGameDays(records);
  const summary =
    `game days: ${s.runs} runs, ${s.injected} injected, ${s.refused} refused; ` +
    `mean score ${s.meanScore === null ? '-' : Math.round(s.meanScore)}/100, detected ${pct(s.detectedShare)}, ` +
    `right diagnosis ${pct(s.diagnosedShare)}, mitigated ${pct(s.mitigatedShare)}, ` +
    `time to detect p50 ${ms(s.timeToDetectP50Ms)}, to mitigate p50 ${ms(s.timeToMitigateP50Ms)}; ` +
    `revert needed ${s.revertNeeded}, revert failed ${s.revertFailed}\n`;
  return `${summary}${table(
    [
      'WHEN',
      'EXPERIMENT',
      'TARGET',
      'STATE',
      'SCORE',
      'DETECTED',
      'DIAGNOSIS',
      'MITIGATED',
      'TTD',
      'TTM',
      'REVERT NEEDED',
      'WHY',
    ],
    records.map((r) => [
      r.requestedAt.toISOString().slice(0, 16),
      r.experiment,
      `${r.target.cluster}/${r.target.service}`,
      r.state,
      r.score ? `${r.score.score}${r.score.final ? '' : '*'}` : '-',
      yesNo(r.score?.detected),
      r.score
        ? `${r.score.diagnosedRootCause ?? '-'} (${r.score.diagnosisCorrect ? 'right' : 'wrong'})`
        : '-',
      yesNo(r.score?.mitigated),
      ms(r.score?.timeToDetectMs),
      ms(r.score?.timeToMitigateMs),
      yesNo(r.score?.revertNeeded),
      r.guard ? `${r.guard}: ${r.reason ?? ''}` : (r.reason ?? ''),
    ]),
  )}${records.some((r) => r.score && !r.score.final) ? '(* not final yet: the experiment or its incident is still running)\n' : ''}`;
}

function describeRun(result: RunResult): { text: string; ok: boolean } {
  switch (result.outcome) {
    case 'injected':
      return {
        ok: true,
        text: `injected ${result.experimentId}: ${result.operations.join('; ')}\nreverts at ${result.revertAt} whether or not Homeostat repairs it; follow it with: homeostat incidents --open, homeostat chaos list\n`,
      };
    case 'dry_run':
      return {
        ok: true,
        text: `dry run ${result.experimentId}: the guardrails allow it; it would inject ${JSON.stringify(result.injection)} and revert after ${result.revertAfterMinutes} min. Nothing changed.\n`,
      };
    case 'refused':
      return { ok: false, text: `refused (${result.guard}): ${result.reason}\n` };
    case 'failed':
      return { ok: false, text: `failed: ${result.reason}\n` };
    case 'duplicate':
      return { ok: false, text: `already requested: experiment ${result.experimentId} is ${result.state}\n` };
    case 'unknown_experiment':
      return {
        ok: false,
        text: `${result.reason}; configured: ${result.known.length ? result.known.join(', ') : 'none'}\n`,
      };
  }
}

export async function chaosCommand(args: string[], deps: ChaosCliDeps): Promise<CliOutput> {
  const [sub, ...rest] = args;
  if (sub === 'run') {
    const { values, positionals } = parseArgs({
      args: rest,
      allowPositionals: true,
      options: { 'dry-run': { type: 'boolean', default: false }, json: { type: 'boolean', default: false } },
    });
    const experiment = positionals[0];
    if (!experiment || positionals.length > 1)
      return { stdout: '', stderr: `usage:\n${chaosUsage}`, exitCode: 2 };
    const result = await deps.invoke({
      homeostat: 'chaos.run',
      experiment,
      dryRun: values['dry-run'],
      requestedBy: deps.user,
      requestId: randomUUID(),
    });
    const { text, ok } = describeRun(result);
    return {
      stdout: values.json ? `${JSON.stringify(result, null, 2)}\n` : text,
      stderr: '',
      exitCode: ok ? 0 : 1,
    };
  }
  if (sub === 'list') {
    const { values } = parseArgs({
      args: rest,
      options: { since: { type: 'string', default: '7d' }, json: { type: 'boolean', default: false } },
    });
    const until = deps.now ?? new Date();
    const since = parseSince(values.since, until);
    if (!since) return sinceError(values.since);
    const records = await deps.records(since, until);
    return {
      stdout: values.json
        ? `${JSON.stringify({ summary: summarizeGameDays(records), runs: records }, null, 2)}\n`
        : gameDayText(records),
      stderr: '',
      exitCode: 0,
    };
  }
  return { stdout: '', stderr: `usage:\n${chaosUsage}`, exitCode: 2 };
}
