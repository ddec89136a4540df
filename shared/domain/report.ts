/** The report's figures, pure: incidents per day, time to resolve, success rate per action, cost. */

export interface ReportIncident {
  id: string;
  cluster: string;
  service: string;
  title: string;
  state: string;
  openedAt: Date;
  closedAt: Date | null;
  rootCause: string | null;
  /** How it failed (mechanisms.ts); null when not diagnosed or diagnosed before mechanisms existed. */
  mechanism?: string | null;
  tokens: number;
  costUsd: number;
  chaosExperimentId: string | null;
  steps: Array<{ step: number; action: string; mode: string; status: string; undone: boolean }>;
  timeline: Array<{ at: Date; kind: string; summary: string }>;
}

export interface ReportData {
  since: Date;
  until: Date;
  totals: {
    incidents: number;
    resolved: number;
    selfResolved: number;
    escalated: number;
    open: number;
    actions: number;
    tokens: number;
    costUsd: number;
  };
  perDay: Array<{ day: string; opened: number; resolved: number }>;
  timeToResolveMs: { p50: number | null; p90: number | null; values: number[] };
  actions: Array<{ action: string; runs: number; resolved: number; rate: number }>;
  costPerDay: Array<{ day: string; usd: number; tokens: number }>;
  incidents: ReportIncident[];
}

const dayOf = (d: Date) => d.toISOString().slice(0, 10);

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1] ?? null;
}

const executed = new Set(['resolved', 'no_effect', 'worse', 'failed']);

export function buildReport(incidents: readonly ReportIncident[], since: Date, until: Date): ReportData {
  const days: string[] = [];
  for (
    let t = Date.UTC(since.getUTCFullYear(), since.getUTCMonth(), since.getUTCDate());
    t <= until.getTime();
    t += 86_400_000
  )
    days.push(dayOf(new Date(t)));
  const perDay = new Map(days.map((d) => [d, { day: d, opened: 0, resolved: 0 }]));
  const cost = new Map(days.map((d) => [d, { day: d, usd: 0, tokens: 0 }]));
  const byAction = new Map<string, { action: string; runs: number; resolved: number; rate: number }>();
  const ttr: number[] = [];
  const totals = {
    incidents: 0,
    resolved: 0,
    selfResolved: 0,
    escalated: 0,
    open: 0,
    actions: 0,
    tokens: 0,
    costUsd: 0,
  };
  for (const i of incidents) {
    totals.incidents++;
    const opened = perDay.get(dayOf(i.openedAt));
    if (opened) opened.opened++;
    if (i.state === 'resolved' || i.state === 'self_resolved') {
      if (i.state === 'resolved') totals.resolved++;
      else totals.selfResolved++;
      if (i.closedAt) {
        ttr.push(i.closedAt.getTime() - i.openedAt.getTime());
        const closed = perDay.get(dayOf(i.closedAt));
        if (closed) closed.resolved++;
      }
    } else if (i.state === 'escalated' || i.state === 'failed') totals.escalated++;
    else totals.open++;
    totals.tokens += i.tokens;
    totals.costUsd += i.costUsd;
    const c = cost.get(dayOf(i.openedAt));
    if (c) {
      c.usd += i.costUsd;
      c.tokens += i.tokens;
    }
    for (const s of i.steps) {
      if (!executed.has(s.status)) continue;
      totals.actions++;
      const a = byAction.get(s.action) ?? { action: s.action, runs: 0, resolved: 0, rate: 0 };
      a.runs++;
      if (s.status === 'resolved') a.resolved++;
      a.rate = a.resolved / a.runs;
      byAction.set(s.action, a);
    }
  }
  ttr.sort((a, b) => a - b);
  return {
    since,
    until,
    totals,
    perDay: [...perDay.values()],
    timeToResolveMs: { p50: percentile(ttr, 50), p90: percentile(ttr, 90), values: ttr },
    actions: [...byAction.values()].sort((a, b) => b.runs - a.runs || a.action.localeCompare(b.action)),
    costPerDay: [...cost.values()],
    incidents: [...incidents].sort((a, b) => b.openedAt.getTime() - a.openedAt.getTime()),
  };
}
