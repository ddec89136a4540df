/**
 * Gathering evidence: the tools' contract, the investigation that runs them
 * (bounded in time, each failure recorded as a gap, never fatal), and the
 * pure helpers tools share — secret redaction (redaction.ts) and the
 * task-definition diff. Whatever a tool finds is redacted here, once, before
 * it reaches Bedrock, the database or Slack.
 */
import type {
  Evidence,
  EvidenceFacts,
  EvidenceGap,
  EvidenceKind,
  IncidentBrief,
  Investigation,
  TaskDefinitionDiff,
} from './diagnosis.ts';
import { redact, redactDeep, redactText } from './redaction.ts';

export { redact };

/** What a tool found, before the investigation numbers it. */
export interface Finding<K extends EvidenceKind = EvidenceKind> {
  kind: K;
  summary: string;
  facts: EvidenceFacts[K];
  untrusted?: boolean;
}

/** A finding of any kind, with kind and facts kept in step. */
export type AnyFinding = { [K in EvidenceKind]: Finding<K> }[EvidenceKind];

export interface EvidenceTool {
  readonly name: string;
  /** Findings about the incident, or a gap: nothing to say and why (no data, no log group…). */
  gather(incident: IncidentBrief, signal: AbortSignal): Promise<AnyFinding[] | { missing: string }>;
}

/** Per tool: a slow dependency costs its own evidence, not the investigation. */
export const defaultToolTimeoutMs = 8_000;

/**
 * Runs every tool at once with a timeout each. Evidence ids are stable for a
 * given set of findings: `<kind>:<n>` in tool order.
 */
export async function investigate(
  incident: IncidentBrief,
  tools: readonly EvidenceTool[],
  timeoutMs = defaultToolTimeoutMs,
): Promise<Investigation> {
  const outcomes = await Promise.all(
    tools.map(async (tool) => {
      const controller = new AbortController();
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<{ missing: string }>((resolve) => {
        timer = setTimeout(() => {
          // Settle first: a tool that answers its abort must not win the race with a partial answer.
          resolve({ missing: `timed out after ${timeoutMs} ms` });
          controller.abort();
        }, timeoutMs);
      });
      try {
        return {
          tool: tool.name,
          result: await Promise.race([tool.gather(incident, controller.signal), timeout]),
        };
      } catch (error) {
        return {
          tool: tool.name,
          result: { missing: `failed: ${(error as Error).name}: ${(error as Error).message}` },
        };
      } finally {
        clearTimeout(timer);
      }
    }),
  );
  const evidence: Evidence[] = [];
  const gaps: EvidenceGap[] = [];
  const counts = new Map<EvidenceKind, number>();
  for (const { tool, result } of outcomes) {
    if ('missing' in result) {
      gaps.push({ tool, reason: redactText(result.missing) });
      continue;
    }
    for (const finding of result) {
      const n = (counts.get(finding.kind) ?? 0) + 1;
      counts.set(finding.kind, n);
      evidence.push({
        id: `${finding.kind}:${n}`,
        kind: finding.kind,
        source: tool,
        summary: redactText(finding.summary),
        facts: redactDeep(finding.facts),
        untrusted: finding.untrusted ?? false,
      } as Evidence);
    }
  }
  return { incident, evidence, gaps };
}

export interface TaskDefinitionView {
  arn: string;
  image: string | null;
  memory: number | null;
  cpu: number | null;
  command: string[];
  environment: Record<string, string>;
  /** The essential container's mount points as `volume:containerPath` (volume kind, e.g. `efs`, appended). */
  mounts?: string[];
}

/** What changed between two revisions (environment by name only: values may be secrets). */
export function diffTaskDefinitions(from: TaskDefinitionView, to: TaskDefinitionView): TaskDefinitionDiff {
  const names = (env: Record<string, string>) => new Set(Object.keys(env));
  const before = names(from.environment);
  const after = names(to.environment);
  return {
    from: from.arn,
    to: to.arn,
    image: from.image !== to.image ? { from: from.image ?? '', to: to.image ?? '' } : null,
    memory: from.memory !== to.memory ? { from: from.memory, to: to.memory } : null,
    cpu: from.cpu !== to.cpu ? { from: from.cpu, to: to.cpu } : null,
    command:
      JSON.stringify(from.command) !== JSON.stringify(to.command)
        ? { from: from.command, to: to.command }
        : null,
    mounts:
      JSON.stringify(from.mounts ?? []) !== JSON.stringify(to.mounts ?? [])
        ? { from: from.mounts ?? [], to: to.mounts ?? [] }
        : null,
    environment: {
      added: [...after].filter((n) => !before.has(n)).sort(),
      removed: [...before].filter((n) => !after.has(n)).sort(),
      changed: [...after].filter((n) => before.has(n) && from.environment[n] !== to.environment[n]).sort(),
    },
  };
}

/** One line on what a diff changed, for summaries. */
export function describeDiff(diff: TaskDefinitionDiff): string {
  const parts = [
    diff.image && `image ${diff.image.from} → ${diff.image.to}`,
    diff.memory && `memory ${diff.memory.from} → ${diff.memory.to}`,
    diff.cpu && `cpu ${diff.cpu.from} → ${diff.cpu.to}`,
    diff.command && 'command changed',
    diff.mounts && `mounts ${diff.mounts.from.join(', ') || 'none'} → ${diff.mounts.to.join(', ') || 'none'}`,
    diff.environment.added.length > 0 && `env added ${diff.environment.added.join(', ')}`,
    diff.environment.removed.length > 0 && `env removed ${diff.environment.removed.join(', ')}`,
    diff.environment.changed.length > 0 && `env changed ${diff.environment.changed.join(', ')}`,
  ].filter(Boolean);
  return parts.length > 0 ? parts.join('; ') : 'no change';
}
