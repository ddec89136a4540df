import { describe, expect, it } from 'vitest';
import { policyContext, serviceState } from '../testing/remediation.ts';
import type { DiagnosisProposal } from './diagnosis.ts';
import { candidates, choose, parametersFor } from './planner.ts';
import { evaluate, type PolicyContext } from './policy.ts';

const service = serviceState();

const diagnosis = (
  rootCause: DiagnosisProposal['hypotheses'][number]['rootCause'],
  recommendedActions: DiagnosisProposal['recommendedActions'],
  confidence = 0.85,
): DiagnosisProposal => ({
  hypotheses: [{ rootCause, component: 'api', confidence, evidenceIds: ['signals:1'], explanation: '' }],
  recommendedActions,
  insufficientEvidence: false,
});
const noKnowledge = { solutions: [], runbookActions: [] };

describe('planner candidates', () => {
  it('turns the recommendations into concrete parameters, escalation last', () => {
    expect(
      candidates(diagnosis('oom', ['rollback_task_definition', 'increase_memory']), service, noKnowledge),
    ).toEqual([
      { action: 'rollback_task_definition', parameters: { taskDefinition: 'api:6' }, source: 'diagnosis' },
      { action: 'increase_memory', parameters: { memoryMiB: 768 }, source: 'diagnosis' },
      {
        action: 'escalate',
        parameters: {
          reason:
            'oom: no applicable action. Fix: check memory per task against its limit; raise memory or reduce the working set',
        },
        source: 'fallback',
      },
    ]);
  });

  it('puts actions that worked on this problem before first, once they rest on enough outcomes', () => {
    const knowledge = {
      solutions: [
        { action: 'restart_service', lowerBound: 0.7, outcomes: 8 },
        { action: 'scale_out', lowerBound: 0.9, outcomes: 2 },
      ],
      runbookActions: ['scale_out'],
    };
    expect(
      candidates(diagnosis('oom', ['increase_memory']), service, knowledge).map((c) => [c.action, c.source]),
    ).toEqual([
      ['restart_service', 'knowledge'],
      ['increase_memory', 'diagnosis'],
      ['scale_out', 'runbook'],
      ['escalate', 'fallback'],
    ]);
  });

  it('drops what cannot apply here: no known-good revision, no fallback, already at the maximum', () => {
    const bare = { ...service, lastKnownGood: null, desiredCount: 8, maxTasks: 8 };
    expect(
      candidates(
        diagnosis('dependency_failure', ['switch_to_fallback', 'rollback_task_definition', 'scale_out']),
        bare,
        noKnowledge,
      ).map((c) => c.action),
    ).toEqual(['escalate']);
  });

  it('does nothing for a healthy service and escalates an unexplained one', () => {
    expect(candidates(diagnosis('no_fault', ['none'], 0.6), service, noKnowledge)).toEqual([
      { action: 'none', parameters: {}, source: 'diagnosis' },
    ]);
    expect(candidates(diagnosis('oom', ['restart_service'], 0.3), service, noKnowledge)[0]?.action).toBe(
      'none',
    );
    expect(
      candidates(
        { hypotheses: [], recommendedActions: ['escalate'], insufficientEvidence: true },
        service,
        noKnowledge,
      ),
    ).toEqual([
      {
        action: 'escalate',
        parameters: { reason: 'insufficient evidence to name a root cause' },
        source: 'fallback',
      },
    ]);
  });

  it.each([
    ['scale_out', { desiredCount: 6 }],
    ['increase_memory', { memoryMiB: 768 }],
    ['scale_in', { desiredCount: 3 }],
    ['stop_task', null],
  ] as const)('parameters for %s', (action, expected) => {
    expect(parametersFor(action, service, { reason: 'r' })).toEqual(expected);
  });
});

describe('choosing the first candidate the policy allows', () => {
  const ctx = (overrides: Partial<PolicyContext> = {}) => policyContext(overrides);
  const list = candidates(
    diagnosis('oom', ['rollback_task_definition', 'restart_service']),
    service,
    noKnowledge,
  );

  it('takes the first allowed one', () => {
    const choice = choose(list, (c) => evaluate(c.action, c.parameters, ctx()));
    expect(choice.candidate.action).toBe('rollback_task_definition');
    expect(choice.decision).toMatchObject({ verdict: 'allow', mode: 'auto' });
  });

  it('skips a refused one and says why', () => {
    const choice = choose(list, (c) =>
      evaluate(c.action, c.parameters, ctx({ allowedActions: ['restart_service'] })),
    );
    expect(choice.candidate.action).toBe('restart_service');
    expect(choice.refused.map((r) => r.candidate.action)).toEqual(['rollback_task_definition']);
  });

  it('escalates with every reason when the policy refuses them all (kill switch)', () => {
    const choice = choose(list, (c) => evaluate(c.action, c.parameters, ctx({ killSwitch: true })));
    expect(choice.candidate.action).toBe('escalate');
    expect(choice.decision).toMatchObject({ verdict: 'allow' });
    expect(String(choice.candidate.parameters.reason)).toMatch(
      /^the policy refused every candidate — rollback_task_definition: the kill switch is engaged \| restart_service: the kill switch/,
    );
  });

  it('stops at the circuit breaker: no further candidate is tried, it escalates', () => {
    const tried: string[] = [];
    const choice = choose(list, (c) => {
      tried.push(c.action);
      return evaluate(c.action, c.parameters, ctx({ ineffectiveRemediations: 5 }));
    });
    expect(choice.candidate.action).toBe('escalate');
    expect(tried).toEqual(['rollback_task_definition', 'escalate']);
  });
});
