/**
 * The story of one incident as people read it in Slack or e-mail: what
 * broke, the evidence, what Homeostat did, the outcome, time to resolve,
 * tokens and cost. The template here always works; a model may write the
 * prose (the notify agent's choice), never the facts, links or numbers.
 */
import type { IncidentState } from './incident.ts';
import { redactText } from './redaction.ts';

export interface StoryStep {
  step: number;
  action: string;
  mode: 'auto' | 'observe' | 'approve';
  status: string;
  undone: boolean;
}

export interface IncidentStory {
  incidentId: string;
  cluster: string;
  service: string;
  title: string;
  state: IncidentState;
  openedAt: Date;
  closedAt: Date | null;
  signalCount: number;
  chaosExperimentId: string | null;
  diagnosis: {
    rootCause: string;
    component: string;
    confidence: number;
    explanation: string;
    /** Summaries of the evidence the top hypothesis cites (may quote logs: untrusted text). */
    evidence: string[];
    /** The same evidence with its id, kind and whether it quotes the workload (logs, service events). */
    citations?: { id: string; kind: string; source: string; summary: string; untrusted: boolean }[];
    provider: string;
    model: string | null;
    /** How it fails (mechanisms.ts) and what a human should do; null on older diagnoses. */
    mechanism?: string | null;
    fix?: string | null;
  } | null;
  /** Why the incident went to humans (incident.escalated), with the fix it names. */
  escalation?: string | null;
  steps: StoryStep[];
  tokens: { input: number; output: number };
  costUsd: number;
  /** Set once the learn agent has summarised the closed incident. */
  learning: {
    recurrence: number;
    recurring: boolean;
    recommendation: string | null;
    promotions: string[];
  } | null;
  /** The open approval request, with its links (from approval.requested). */
  approval: {
    step: number;
    action: string;
    reason: string;
    approveUrl: string | null;
    rejectUrl: string | null;
    expiresAt: Date;
  } | null;
}

export interface Narrative {
  headline: string;
  /** Plain text with Slack-style *bold*; any untrusted text in it is escaped. */
  text: string;
  /** What this version announces, for channels that cannot edit a sent message. */
  milestone: string;
}

const closedStates: readonly IncidentState[] = ['resolved', 'self_resolved', 'escalated', 'failed'];

/**
 * Untrusted text (log lines, model prose) carries no secret and cannot mention
 * @channel, link elsewhere or break formatting.
 */
export function escapeText(text: string, max = 300): string {
  const oneLine = redactText(text).replace(/\s+/g, ' ').trim();
  const cut = oneLine.length > max ? `${oneLine.slice(0, max - 1)}…` : oneLine;
  return cut.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

const stateWords: Record<IncidentState, string> = {
  open: 'open',
  diagnosing: 'diagnosing',
  planned: 'repair planned',
  awaiting_approval: 'waiting for approval',
  acting: 'repairing',
  verifying: 'verifying the repair',
  resolved: 'resolved',
  failed: 'failed',
  escalated: 'escalated to humans',
  self_resolved: 'recovered on its own',
};

const stepWords = (s: StoryStep): string => {
  const what =
    s.mode === 'observe' ? `would have run ${s.action} (observe mode, dry run)` : `ran ${s.action}`;
  const outcome: Record<string, string> = {
    planned: 'planned',
    awaiting_approval: 'waiting for approval',
    rejected: 'rejected by a human',
    expired: 'approval expired',
    executing: 'running',
    executed: 'verifying',
    dry_run: 'recorded',
    resolved: 'fixed it',
    no_effect: s.undone ? 'did not help, undone' : 'did not help',
    worse: s.undone ? 'made it worse, undone' : 'made it worse',
    failed: 'failed',
  };
  return `${s.step}. ${what}: ${outcome[s.status] ?? s.status}`;
};

/** The milestone a story is at: channels that cannot edit send once per milestone. */
export function milestoneOf(story: IncidentStory): string {
  if (closedStates.includes(story.state)) return story.learning ? 'learned' : 'closed';
  if (story.approval) return `approval:${story.approval.step}`;
  return 'opened';
}

/** The template narrative (also the fallback when the model is unavailable). */
export function renderNarrative(story: IncidentStory, prose?: string): Narrative {
  const svc = `${story.cluster}/${story.service}`;
  const headline = `[${stateWords[story.state]}] ${svc}: ${escapeText(story.title, 120)}`;
  const lines: string[] = [`*${headline}*`];
  if (prose) lines.push(escapeText(prose, 600));
  const d = story.diagnosis;
  if (d) {
    lines.push(
      `*What broke:* ${d.rootCause.replace(/_/g, ' ')} in ${escapeText(d.component, 60)} (confidence ${Math.round(d.confidence * 100)}%) — ${escapeText(d.explanation, 240)}`,
    );
    if (d.mechanism) lines.push(`*Mechanism:* ${escapeText(d.mechanism.replace(/_/g, ' '), 60)}`);
    if (d.evidence.length > 0) {
      lines.push('*Evidence:*', ...d.evidence.slice(0, 4).map((e) => `• ${escapeText(e, 160)}`));
    }
  } else {
    lines.push(
      `*What broke:* not diagnosed yet (${story.signalCount} signal${story.signalCount === 1 ? '' : 's'})`,
    );
  }
  if (story.steps.length > 0) lines.push('*What Homeostat did:*', ...story.steps.map(stepWords));
  else lines.push('*What Homeostat did:* nothing yet');
  if (story.approval) {
    const a = story.approval;
    lines.push(
      `*Approval needed* for ${a.action} (step ${a.step}, expires ${a.expiresAt.toISOString()}): ${escapeText(a.reason, 200)}`,
    );
    if (a.approveUrl) lines.push(`Approve: ${a.approveUrl}`);
    if (a.rejectUrl) lines.push(`Reject: ${a.rejectUrl}`);
    lines.push(`Or: npx homeostat approve ${story.incidentId}`);
  }
  if (story.state === 'escalated' && story.escalation)
    lines.push(`*Escalated — what a human should do:* ${escapeText(story.escalation, 900)}`);
  else if (story.state === 'escalated' && d?.fix)
    lines.push(`*What a human should do:* ${escapeText(d.fix, 600)}`);
  const outcome = closedStates.includes(story.state)
    ? `${stateWords[story.state]} after ${formatDuration((story.closedAt ?? story.openedAt).getTime() - story.openedAt.getTime())}`
    : `${stateWords[story.state]}, open since ${story.openedAt.toISOString()}`;
  lines.push(`*Outcome:* ${outcome}`);
  lines.push(
    `*Model use:* ${story.tokens.input + story.tokens.output} tokens (${story.tokens.input} in, ${story.tokens.output} out), $${story.costUsd.toFixed(4)}${d ? ` — ${d.provider}${d.model ? ` ${d.model}` : ''}` : ''}`,
  );
  if (story.chaosExperimentId) lines.push(`_Caused by chaos experiment ${story.chaosExperimentId}._`);
  const l = story.learning;
  if (l?.recurring) {
    lines.push(
      `*Recurring:* seen ${l.recurrence} times recently.${l.recommendation ? ` ${escapeText(l.recommendation, 300)}` : ''}`,
    );
  }
  for (const p of l?.promotions ?? []) lines.push(`*Autonomy:* ${escapeText(p, 200)}`);
  lines.push(`Incident ${story.incidentId} — npx homeostat show ${story.incidentId}`);
  return { headline, text: lines.join('\n'), milestone: milestoneOf(story) };
}
