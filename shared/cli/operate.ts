/**
 * `homeostat incidents|show|kill-switch|autonomy`: the loop from a terminal.
 * Tables for people by default, one JSON document with --json; usage errors
 * exit 2, failures 1.
 */
import { parseArgs } from 'node:util';
import type { ServiceAutonomy } from '../adapters/autonomy-registry.ts';
import { type IncidentListItem, type TimelineEntry, timelineSummary } from '../adapters/incident-views.ts';
import type { AutonomyRecommendation } from '../adapters/learning-store.ts';
import type { IncidentStory } from '../domain/narrative.ts';
import { formatDuration, renderNarrative } from '../domain/narrative.ts';
import type { Autonomy } from '../domain/policy.ts';
import type { ServiceRef } from '../domain/signal.ts';
import type { CatalogAction } from '../domain/taxonomy.ts';

export interface CliOutput {
  stdout: string;
  stderr: string;
  exitCode: number;
}

export interface OperateDeps {
  incidents: {
    list(filter: { open?: boolean; since?: Date; limit?: number }): Promise<IncidentListItem[]>;
    story(id: string): Promise<IncidentStory | null>;
    timeline(id: string): Promise<TimelineEntry[]>;
    resolveId(prefix: string): Promise<string[]>;
  };
  autonomy: {
    get(ref: ServiceRef): Promise<ServiceAutonomy>;
    recommendations(filter: { open?: boolean }): Promise<AutonomyRecommendation[]>;
    set(
      ref: ServiceRef,
      action: CatalogAction | null,
      level: Autonomy,
      by: string,
    ): Promise<{ recommendationsClosed: number }>;
  };
  killSwitch: {
    read(): Promise<{ engaged: boolean; value: string | null; parameter: string }>;
    set(on: boolean, by: string): Promise<void>;
  };
  user: string;
}

export const operateUsage = `  incidents [--open] [--since 7d] [--limit N] [--json]
                                     recent incidents, newest first
  show <incident-id> [--json]        one incident: its story and timeline (a unique id prefix will do)
  kill-switch on|off|status [--json] stop (or resume) every action and chaos at once
  autonomy get <cluster/service> [--json]
  autonomy set <cluster/service> <action|default> <observe|approve|auto>
  autonomy recommendations [--all] [--json]
                                     promotions the learn agent recommends (humans decide)
`;

const ok = (stdout: string): CliOutput => ({ stdout, stderr: '', exitCode: 0 });
export const usageError = (message: string): CliOutput => ({
  stdout: '',
  stderr: `${message}\n`,
  exitCode: 2,
});

/** The usage mistake of a --since that parseSince refused. */
export const sinceError = (text: string | undefined) =>
  usageError(`--since must look like 7d, 24h or 90m, got ${text}`);
const json = (value: unknown) => ok(`${JSON.stringify(value, null, 2)}\n`);

/** Fixed-width columns, widths from the content. */
export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return `${[line(header), ...rows.map(line)].join('\n')}\n`;
}

/** `7d`, `24h`, `90m` → a date that long ago. */
export function parseSince(text: string, now = new Date()): Date | null {
  const m = /^(\d+)([dhm])$/.exec(text.trim());
  if (!m) return null;
  const unit = { d: 86_400_000, h: 3_600_000, m: 60_000 }[m[2] as 'd' | 'h' | 'm'];
  return new Date(now.getTime() - Number(m[1]) * unit);
}

export function parseService(text: string | undefined): ServiceRef | null {
  const m = /^([^/\s]+)\/([^/\s]+)$/.exec(text ?? '');
  return m ? { cluster: m[1] as string, service: m[2] as string } : null;
}

const short = (id: string) => id.slice(0, 8);
const age = (from: Date, to: Date | null) => formatDuration((to ?? new Date()).getTime() - from.getTime());

export async function operateCommand(command: string, args: string[], deps: OperateDeps): Promise<CliOutput> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      json: { type: 'boolean', default: false },
      open: { type: 'boolean', default: false },
      all: { type: 'boolean', default: false },
      since: { type: 'string' },
      limit: { type: 'string', default: '50' },
    },
  });
  if (command === 'incidents') {
    const since = values.since ? parseSince(values.since) : undefined;
    if (since === null) return sinceError(values.since);
    const limit = Number(values.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 500) return usageError('--limit must be 1–500');
    const items = await deps.incidents.list({ open: values.open, ...(since ? { since } : {}), limit });
    if (values.json) return json(items);
    if (items.length === 0) return ok(values.open ? 'No open incidents.\n' : 'No incidents.\n');
    return ok(
      table(
        ['ID', 'SERVICE', 'STATE', 'OPENED', 'DURATION', 'ROOT CAUSE', 'ACTIONS', 'TITLE'],
        items.map((i) => [
          short(i.id),
          `${i.cluster}/${i.service}`,
          i.state,
          i.openedAt.toISOString().slice(0, 19).replace('T', ' '),
          age(i.openedAt, i.closedAt),
          i.rootCause ?? '-',
          i.actions.join(',') || '-',
          i.title.slice(0, 60),
        ]),
      ),
    );
  }
  if (command === 'show') {
    const prefix = positionals[0];
    if (!prefix) return usageError('show needs an incident id (or a unique prefix of one)');
    const ids = await deps.incidents.resolveId(prefix);
    if (ids.length === 0) return { stdout: '', stderr: `no incident ${prefix}\n`, exitCode: 1 };
    if (ids.length > 1)
      return usageError(
        `${prefix} matches ${ids.length} incidents (${ids.map(short).join(', ')}): give more of the id`,
      );
    const id = ids[0] as string;
    const [story, timeline] = await Promise.all([deps.incidents.story(id), deps.incidents.timeline(id)]);
    if (!story) return { stdout: '', stderr: `no incident ${prefix}\n`, exitCode: 1 };
    if (values.json) return json({ story, timeline });
    const narrative = renderNarrative(story).text.replace(/\*/g, '');
    const lines = timeline.map(
      (t) => `  ${t.at.toISOString().slice(11, 23)}  ${t.kind.padEnd(24)} ${timelineSummary(t.detail)}`,
    );
    return ok(`${narrative}\n\nTimeline (UTC):\n${lines.join('\n') || '  (empty)'}\n`);
  }
  if (command === 'kill-switch') {
    const sub = positionals[0];
    if (sub === 'status') {
      const state = await deps.killSwitch.read();
      if (values.json) return json(state);
      return ok(
        `kill switch ${state.engaged ? 'ENGAGED: no action and no chaos runs' : 'off: the loop may act'} (${state.parameter} = ${state.value ?? 'unset'})\n`,
      );
    }
    if (sub === 'on' || sub === 'off') {
      await deps.killSwitch.set(sub === 'on', deps.user);
      const state = await deps.killSwitch.read();
      if (values.json) return json(state);
      return ok(
        `kill switch ${state.engaged ? 'ENGAGED' : 'off'} (${state.parameter}); agents see it within 10 s\n`,
      );
    }
    return usageError('kill-switch takes on, off or status');
  }
  if (command === 'autonomy') {
    const [sub, serviceText, actionText, levelText] = positionals;
    if (sub === 'recommendations') {
      const recs = await deps.autonomy.recommendations({ open: !values.all });
      if (values.json) return json(recs);
      if (recs.length === 0) return ok('No autonomy recommendations.\n');
      return ok(
        table(
          ['SERVICE', 'ACTION', 'FROM', 'TO', 'EVIDENCE', 'RECOMMENDED', 'DECISION'],
          recs.map((r) => [
            `${r.cluster}/${r.service}`,
            r.action,
            r.from,
            r.to,
            `${r.evidence} right in a row`,
            r.recommendedAt.toISOString().slice(0, 16).replace('T', ' '),
            r.decision ? `${r.decision} by ${r.decidedBy}` : 'open',
          ]),
        ) +
          (values.all
            ? ''
            : '\nPromote with: npx homeostat autonomy set <cluster/service> <action> <level>\n'),
      );
    }
    const service = parseService(serviceText);
    if (sub === 'get') {
      if (!service) return usageError('autonomy get needs <cluster/service>');
      const a = await deps.autonomy.get(service);
      if (values.json) return json(a);
      const rows = Object.entries(a.perAction).map(([action, level]) => [action, String(level)]);
      return ok(
        `${service.cluster}/${service.service}: default ${a.default ?? '(the deployment default)'}\n` +
          (rows.length ? table(['ACTION', 'LEVEL'], rows) : 'no per-action levels\n') +
          a.openRecommendations
            .map((r) => `recommended: ${r.action} ${r.from} → ${r.to} (${r.evidence} right in a row)\n`)
            .join(''),
      );
    }
    if (sub === 'set') {
      const [{ isAutonomy }, { isCatalogAction }] = await Promise.all([
        import('../adapters/autonomy-registry.ts'),
        import('../domain/taxonomy.ts'),
      ]);
      if (!service || !actionText || !levelText)
        return usageError('autonomy set needs <cluster/service> <action|default> <observe|approve|auto>');
      if (!isAutonomy(levelText))
        return usageError(`level must be observe, approve or auto, got ${levelText}`);
      if (actionText !== 'default' && !isCatalogAction(actionText))
        return usageError(`${actionText} is not a catalog action`);
      const action = actionText === 'default' ? null : (actionText as CatalogAction);
      const result = await deps.autonomy.set(service, action, levelText, deps.user);
      if (values.json) return json({ service, action: actionText, level: levelText, ...result });
      return ok(
        `${service.cluster}/${service.service} ${actionText}: ${levelText} (recorded in the audit log as ${deps.user}` +
          `${result.recommendationsClosed ? `; ${result.recommendationsClosed} recommendation(s) closed` : ''})\n` +
          'Agents pick it up within a minute. A service declared in CDK context gets its context autonomy back on the next deploy: change it there too.\n',
      );
    }
    return usageError('autonomy takes get, set or recommendations');
  }
  return usageError(`unknown command ${command}`);
}
