/** `homeostat report [--since 7d] [--html FILE] [--json]`: the period's figures, as text, JSON or an HTML page. */
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { type GameDayRecord, summarizeGameDays } from '../domain/chaos.ts';
import { formatDuration } from '../domain/narrative.ts';
import { buildReport, type ReportIncident } from '../domain/report.ts';
import { gameDayText } from './chaos.ts';
import { type CliOutput, parseSince, sinceError, table } from './operate.ts';
import { renderReportHtml } from './report-html.ts';

export const reportUsage = `  report [--since 7d] [--html FILE] [--json]
                                     incidents per day, time to resolve, success per action, cost,
                                     chaos game-day scores;
                                     --html writes a self-contained page with charts and timelines
`;

export async function reportCommand(
  args: string[],
  deps: {
    incidents(since: Date, until: Date): Promise<ReportIncident[]>;
    /** Chaos experiment runs and their game-day scores. */
    gameDays(since: Date, until: Date): Promise<GameDayRecord[]>;
    progress(line: string): void;
    now?: Date;
  },
): Promise<CliOutput> {
  const { values } = parseArgs({
    args,
    options: {
      since: { type: 'string', default: '7d' },
      html: { type: 'string' },
      json: { type: 'boolean', default: false },
      stack: { type: 'string' },
    },
  });
  const until = deps.now ?? new Date();
  const since = parseSince(values.since, until);
  if (!since) return sinceError(values.since);
  deps.progress(`reading incidents since ${since.toISOString()}…`);
  const incidents = await deps.incidents(since, until);
  deps.progress(`${incidents.length} incidents; building the report…`);
  const report = buildReport(incidents, since, until);
  const gameDays = await deps.gameDays(since, until);
  if (values.html) {
    await writeFile(values.html, renderReportHtml(report, gameDays), 'utf8');
    deps.progress(`wrote ${values.html}`);
  }
  if (values.json)
    return {
      stdout: `${JSON.stringify({ ...report, gameDays: { summary: summarizeGameDays(gameDays), runs: gameDays } }, null, 2)}\n`,
      stderr: '',
      exitCode: 0,
    };
  const t = report.totals;
  const p = (ms: number | null) => (ms === null ? '-' : formatDuration(ms));
  const lines = [
    `Homeostat report, ${since.toISOString().slice(0, 16)} → ${until.toISOString().slice(0, 16)} UTC`,
    `incidents ${t.incidents}: resolved ${t.resolved}, self-resolved ${t.selfResolved}, escalated ${t.escalated}, open ${t.open}`,
    `time to resolve p50 ${p(report.timeToResolveMs.p50)}, p90 ${p(report.timeToResolveMs.p90)}`,
    `actions run ${t.actions}; model use ${t.tokens} tokens, $${t.costUsd.toFixed(4)}`,
    '',
  ];
  const actions = report.actions.length
    ? table(
        ['ACTION', 'RUNS', 'RESOLVED', 'SUCCESS'],
        report.actions.map((a) => [
          a.action,
          String(a.runs),
          String(a.resolved),
          `${Math.round(a.rate * 100)}%`,
        ]),
      )
    : 'No action ran.\n';
  return {
    stdout: `${lines.join('\n')}${actions}\n${gameDayText(gameDays)}${values.html ? `\nHTML report: ${values.html}\n` : ''}`,
    stderr: '',
    exitCode: 0,
  };
}
