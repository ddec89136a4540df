/**
 * `homeostat report --html`: one self-contained HTML page (inline CSS and
 * SVG, no script, nothing fetched) with the charts and the incident list
 * with timelines. Every piece of text is escaped: titles and timelines may
 * quote logs.
 */
import { type GameDayRecord, summarizeGameDays } from '../domain/chaos.ts';
import { formatDuration } from '../domain/narrative.ts';
import type { ReportData } from '../domain/report.ts';

export const escapeHtml = (text: string) =>
  text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');

interface Bar {
  label: string;
  values: number[];
}

/** A grouped bar chart as inline SVG; `series` name each value of a bar. */
function barChart(
  id: string,
  title: string,
  bars: Bar[],
  series: string[],
  format: (v: number) => string = String,
) {
  const width = 640;
  const height = 220;
  const pad = { left: 48, right: 12, top: 16, bottom: 40 };
  const max = Math.max(1e-9, ...bars.flatMap((b) => b.values));
  const plotW = width - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom;
  const group = plotW / Math.max(1, bars.length);
  const barW = Math.max(2, (group * 0.8) / series.length);
  const colours = ['#2b6cb0', '#38a169', '#dd6b20', '#805ad5'];
  const rects = bars.flatMap((b, i) =>
    b.values.map((v, j) => {
      const h = (v / max) * plotH;
      const x = pad.left + i * group + group * 0.1 + j * barW;
      return `<rect class="bar" x="${x.toFixed(1)}" y="${(pad.top + plotH - h).toFixed(1)}" width="${barW.toFixed(1)}" height="${h.toFixed(1)}" fill="${colours[j % colours.length]}"><title>${escapeHtml(`${b.label} ${series[j]}: ${format(v)}`)}</title></rect>`;
    }),
  );
  const step = Math.ceil(bars.length / 10);
  const labels = bars
    .map((b, i) =>
      i % step === 0
        ? `<text x="${(pad.left + i * group + group / 2).toFixed(1)}" y="${height - pad.bottom + 16}" text-anchor="middle">${escapeHtml(b.label)}</text>`
        : '',
    )
    .join('');
  const legend = series
    .map(
      (s, j) =>
        `<span class="key"><i style="background:${colours[j % colours.length]}"></i>${escapeHtml(s)}</span>`,
    )
    .join(' ');
  return `<figure class="chart" id="${id}"><figcaption>${escapeHtml(title)} ${legend}</figcaption>
<svg viewBox="0 0 ${width} ${height}" role="img" aria-label="${escapeHtml(title)}" xmlns="http://www.w3.org/2000/svg">
<line x1="${pad.left}" y1="${pad.top + plotH}" x2="${width - pad.right}" y2="${pad.top + plotH}" stroke="#999"/>
<text x="${pad.left - 6}" y="${pad.top + 4}" text-anchor="end">${escapeHtml(format(max))}</text>
<text x="${pad.left - 6}" y="${pad.top + plotH}" text-anchor="end">0</text>
${rects.join('\n')}
${labels}
</svg>${bars.length === 0 ? '<p class="empty">No data in this period.</p>' : ''}</figure>`;
}

export function renderReportHtml(r: ReportData, gameDays: readonly GameDayRecord[] = []): string {
  const t = r.totals;
  const p = (ms: number | null) => (ms === null ? '–' : formatDuration(ms));
  const rows = r.incidents
    .map((i) => {
      const steps =
        i.steps.map((s) => `${s.action} (${s.mode}, ${s.status}${s.undone ? ', undone' : ''})`).join('; ') ||
        '–';
      const timeline = i.timeline
        .map(
          (e) =>
            `<li><time>${e.at.toISOString().slice(0, 19).replace('T', ' ')}</time> <b>${escapeHtml(e.kind)}</b> ${escapeHtml(e.summary)}</li>`,
        )
        .join('');
      return `<tr class="incident state-${escapeHtml(i.state)}">
<td><code>${escapeHtml(i.id.slice(0, 8))}</code></td><td>${escapeHtml(`${i.cluster}/${i.service}`)}</td>
<td>${escapeHtml(i.state)}</td><td>${i.openedAt.toISOString().slice(0, 16).replace('T', ' ')}</td>
<td>${i.closedAt ? formatDuration(i.closedAt.getTime() - i.openedAt.getTime()) : 'open'}</td>
<td>${escapeHtml(i.rootCause ?? '–')}${i.mechanism ? ` <small>(${escapeHtml(i.mechanism)})</small>` : ''}</td><td>${escapeHtml(steps)}</td><td>$${i.costUsd.toFixed(4)}</td></tr>
<tr class="timeline"><td colspan="8"><details><summary>${escapeHtml(i.title)}${i.chaosExperimentId ? ` — chaos ${escapeHtml(i.chaosExperimentId)}` : ''}</summary><ol>${timeline || '<li>(no timeline)</li>'}</ol></details></td></tr>`;
    })
    .join('\n');
  const ttrBars = r.incidents
    .filter((i) => i.closedAt && (i.state === 'resolved' || i.state === 'self_resolved'))
    .reverse()
    .map((i) => ({
      label: i.id.slice(0, 4),
      values: [((i.closedAt as Date).getTime() - i.openedAt.getTime()) / 1000],
    }));
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Homeostat report ${r.since.toISOString().slice(0, 10)} – ${r.until.toISOString().slice(0, 10)}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#1a202c;max-width:1400px}
h1{font-size:22px;margin:0 0 4px} .sub{color:#4a5568;margin:0 0 16px}
.kpis{display:flex;gap:12px;flex-wrap:wrap;margin-bottom:16px}
.kpi{border:1px solid #e2e8f0;border-radius:6px;padding:8px 12px;min-width:120px}
.kpi b{display:block;font-size:20px}
.charts{display:grid;grid-template-columns:repeat(auto-fit,minmax(420px,1fr));gap:16px}
figure.chart{margin:0;border:1px solid #e2e8f0;border-radius:6px;padding:8px}
figcaption{font-weight:600;margin-bottom:4px} .key{font-weight:400;font-size:12px;margin-left:8px}
.key i{display:inline-block;width:10px;height:10px;margin-right:3px}
svg{width:100%;height:auto} svg text{font-size:10px;fill:#4a5568}
table{border-collapse:collapse;width:100%;margin-top:16px} th,td{text-align:left;padding:4px 6px;border-bottom:1px solid #edf2f7;vertical-align:top}
tr.timeline td{border-bottom:2px solid #e2e8f0} ol{margin:4px 0;padding-left:20px;font-size:12px} time{color:#718096}
.empty{color:#718096}
</style></head>
<body>
<h1>Homeostat report</h1>
<p class="sub">${r.since.toISOString().slice(0, 16).replace('T', ' ')} → ${r.until.toISOString().slice(0, 16).replace('T', ' ')} UTC</p>
<section class="kpis">
<div class="kpi">incidents<b>${t.incidents}</b></div>
<div class="kpi">resolved<b>${t.resolved}</b></div>
<div class="kpi">self-resolved<b>${t.selfResolved}</b></div>
<div class="kpi">escalated<b>${t.escalated}</b></div>
<div class="kpi">open<b>${t.open}</b></div>
<div class="kpi">time to resolve p50 / p90<b>${p(r.timeToResolveMs.p50)} / ${p(r.timeToResolveMs.p90)}</b></div>
<div class="kpi">actions run<b>${t.actions}</b></div>
<div class="kpi">model cost<b>$${t.costUsd.toFixed(4)}</b> ${t.tokens} tokens</div>
</section>
<section class="charts">
${barChart(
  'incidents-per-day',
  'Incidents per day',
  r.perDay.map((d) => ({ label: d.day.slice(5), values: [d.opened, d.resolved] })),
  ['opened', 'resolved'],
)}
${barChart('time-to-resolve', 'Time to resolve (s), oldest first', ttrBars, ['seconds'], (v) => v.toFixed(0))}
${barChart(
  'success-per-action',
  'Success rate per action (%)',
  r.actions.map((a) => ({ label: a.action, values: [Math.round(a.rate * 100)] })),
  ['resolved / run'],
)}
${barChart(
  'cost-per-day',
  'Model cost per day (USD)',
  r.costPerDay.map((d) => ({ label: d.day.slice(5), values: [d.usd] })),
  ['USD'],
  (v) => v.toFixed(3),
)}
</section>
<h2>Actions</h2>
<table><thead><tr><th>action</th><th>runs</th><th>resolved</th><th>success</th></tr></thead><tbody>
${r.actions.map((a) => `<tr><td>${escapeHtml(a.action)}</td><td>${a.runs}</td><td>${a.resolved}</td><td>${Math.round(a.rate * 100)}%</td></tr>`).join('\n') || '<tr><td colspan="4" class="empty">No action ran.</td></tr>'}
</tbody></table>
<h2>Game days</h2>
${gameDaysHtml(gameDays)}
<h2>Incidents</h2>
<table id="incidents"><thead><tr><th>id</th><th>service</th><th>state</th><th>opened (UTC)</th><th>duration</th><th>root cause</th><th>actions</th><th>cost</th></tr></thead><tbody>
${rows || '<tr><td colspan="8" class="empty">No incidents in this period.</td></tr>'}
</tbody></table>
</body></html>
`;
}

/** Chaos experiments as exams: the summary and one row per run with its score. */
function gameDaysHtml(records: readonly GameDayRecord[]): string {
  if (records.length === 0) return '<p class="empty">No chaos experiment ran in this period.</p>';
  const s = summarizeGameDays(records);
  const pct = (v: number | null) => (v === null ? '–' : `${Math.round(v * 100)}%`);
  const ms = (v: number | null | undefined) => (v === null || v === undefined ? '–' : formatDuration(v));
  const yes = (v: boolean | null | undefined) => (v === null || v === undefined ? '–' : v ? 'yes' : 'no');
  const rows = records
    .map(
      (
        g,
      ) => `<tr class="gameday state-${escapeHtml(g.state)}"><td>${g.requestedAt.toISOString().slice(0, 16).replace('T', ' ')}</td>
<td>${escapeHtml(g.experiment)}</td><td>${escapeHtml(`${g.target.cluster}/${g.target.service}`)}</td><td>${escapeHtml(g.state)}</td>
<td>${g.score ? `${g.score.score}${g.score.final ? '' : '*'}` : '–'}</td><td>${yes(g.score?.detected)}</td>
<td>${g.score ? `${escapeHtml(g.score.diagnosedRootCause ?? '–')} (${g.score.diagnosisCorrect ? 'right' : 'wrong'})` : '–'}</td>
<td>${yes(g.score?.mitigated)}</td><td>${ms(g.score?.timeToDetectMs)}</td><td>${ms(g.score?.timeToMitigateMs)}</td>
<td>${yes(g.score?.revertNeeded)}</td><td>${escapeHtml(g.guard ? `${g.guard}: ${g.reason ?? ''}` : (g.reason ?? ''))}</td></tr>`,
    )
    .join('\n');
  return `<section class="kpis">
<div class="kpi"><b>${s.meanScore === null ? '–' : Math.round(s.meanScore)}</b>mean score /100</div>
<div class="kpi"><b>${pct(s.detectedShare)}</b>detected</div>
<div class="kpi"><b>${pct(s.diagnosedShare)}</b>right diagnosis</div>
<div class="kpi"><b>${pct(s.mitigatedShare)}</b>mitigated</div>
<div class="kpi"><b>${ms(s.timeToDetectP50Ms)}</b>time to detect p50</div>
<div class="kpi"><b>${s.injected} / ${s.refused}</b>injected / refused</div>
</section>
<table id="gamedays"><thead><tr><th>requested (UTC)</th><th>experiment</th><th>target</th><th>state</th><th>score</th><th>detected</th><th>diagnosis</th><th>mitigated</th><th>time to detect</th><th>time to mitigate</th><th>revert needed</th><th>why</th></tr></thead><tbody>
${rows}
</tbody></table>`;
}
