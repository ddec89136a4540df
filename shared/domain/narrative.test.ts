import { describe, expect, it } from 'vitest';
import { escapeText, formatDuration, type IncidentStory, milestoneOf, renderNarrative } from './narrative.ts';

const story = (over: Partial<IncidentStory> = {}): IncidentStory => ({
  incidentId: '11111111-1111-4111-8111-111111111111',
  cluster: 'shop',
  service: 'api',
  title: 'api-memory-high in ALARM',
  state: 'resolved',
  openedAt: new Date('2026-11-21T10:00:00Z'),
  closedAt: new Date('2026-11-21T10:03:05Z'),
  signalCount: 3,
  chaosExperimentId: null,
  diagnosis: {
    rootCause: 'oom',
    component: 'api',
    confidence: 0.9,
    explanation: 'Tasks exit 137 after the deploy of api:2',
    evidence: ['2 tasks stopped with exit code 137', 'log: <!channel> FATAL heap out of memory'],
    provider: 'offline',
    model: null,
  },
  steps: [
    { step: 1, action: 'scale_out', mode: 'auto', status: 'worse', undone: true },
    { step: 2, action: 'rollback_task_definition', mode: 'auto', status: 'resolved', undone: false },
  ],
  tokens: { input: 1200, output: 300 },
  costUsd: 0.0123,
  learning: null,
  approval: null,
  ...over,
});

describe('renderNarrative', () => {
  it('tells what broke, the evidence, what was done, the outcome, time to resolve and cost', () => {
    const n = renderNarrative(story());
    expect(n.headline).toBe('[resolved] shop/api: api-memory-high in ALARM');
    expect(n.text).toContain('*What broke:* oom in api (confidence 90%)');
    expect(n.text).toContain('• 2 tasks stopped with exit code 137');
    expect(n.text).toContain('1. ran scale_out: made it worse, undone');
    expect(n.text).toContain('2. ran rollback_task_definition: fixed it');
    expect(n.text).toContain('*Outcome:* resolved after 3 min 5 s');
    expect(n.text).toContain('1500 tokens (1200 in, 300 out), $0.0123');
    expect(n.milestone).toBe('closed');
  });
  it('escapes untrusted text: a log line cannot ping the channel', () => {
    const n = renderNarrative(story());
    expect(n.text).not.toContain('<!channel>');
    expect(n.text).toContain('&lt;!channel&gt;');
  });
  it('carries approval links and the CLI alternative while waiting', () => {
    const n = renderNarrative(
      story({
        state: 'awaiting_approval',
        closedAt: null,
        steps: [
          { step: 1, action: 'restart_service', mode: 'approve', status: 'awaiting_approval', undone: false },
        ],
        approval: {
          step: 1,
          action: 'restart_service',
          reason: 'runbook oom',
          approveUrl: 'https://x/approve?t=a',
          rejectUrl: 'https://x/reject?t=a',
          expiresAt: new Date('2026-11-21T11:00:00Z'),
        },
      }),
    );
    expect(n.text).toContain('Approve: https://x/approve?t=a');
    expect(n.text).toContain('Reject: https://x/reject?t=a');
    expect(n.text).toContain('npx homeostat approve 11111111');
    expect(n.milestone).toBe('approval:1');
  });
  it('says so when nothing is diagnosed or done yet, and names the chaos experiment', () => {
    const n = renderNarrative(
      story({ state: 'open', closedAt: null, diagnosis: null, steps: [], chaosExperimentId: 'exp-1' }),
    );
    expect(n.text).toContain('not diagnosed yet (3 signals)');
    expect(n.text).toContain('nothing yet');
    expect(n.text).toContain('chaos experiment exp-1');
    expect(n.milestone).toBe('opened');
  });
  it('adds the recurrence recommendation and promotions once learned', () => {
    const n = renderNarrative(
      story({
        learning: {
          recurrence: 3,
          recurring: true,
          recommendation: 'Fix the root cause.',
          promotions: ['promote restart_service to auto'],
        },
      }),
    );
    expect(n.text).toContain('*Recurring:* seen 3 times recently. Fix the root cause.');
    expect(n.text).toContain('*Autonomy:* promote restart_service to auto');
    expect(
      milestoneOf(
        story({ learning: { recurrence: 1, recurring: false, recommendation: null, promotions: [] } }),
      ),
    ).toBe('learned');
  });
  it('includes model prose, escaped', () => {
    expect(renderNarrative(story(), 'The <b>api</b> ran out of memory.').text).toContain(
      'The &lt;b&gt;api&lt;/b&gt; ran out of memory.',
    );
  });
});

describe('helpers', () => {
  it('names the mechanism and, when escalated, what a human should do', () => {
    const text = renderNarrative(
      story({
        state: 'escalated',
        diagnosis: {
          rootCause: 'config_error',
          component: 'api',
          confidence: 0.9,
          explanation: 'the log group does not exist',
          evidence: [],
          provider: 'offline',
          model: null,
          mechanism: 'log_destination_missing',
          fix: 'create the log group named in awslogs-group',
        },
        escalation:
          'config_error: no applicable action. log_destination_missing: … Fix: create the log group named in awslogs-group',
      }),
    ).text;
    expect(text).toContain('*Mechanism:* log destination missing');
    expect(text).toMatch(/\*Escalated — what a human should do:\* .*create the log group/);
  });

  it('formats durations', () => {
    expect(formatDuration(4_400)).toBe('4 s');
    expect(formatDuration(185_000)).toBe('3 min 5 s');
    expect(formatDuration(2 * 3_600_000 + 60_000)).toBe('2 h 1 min');
  });
  it('cuts long text', () => {
    expect(escapeText('a'.repeat(50), 10)).toBe(`${'a'.repeat(9)}…`);
  });
});
