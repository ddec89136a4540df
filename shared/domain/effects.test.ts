import { describe, expect, it } from 'vitest';
import { serviceState } from '../testing/remediation.ts';
import type { DiagnosisProposal, Judgement, JudgementFacts } from './diagnosis.ts';
import { assessAction, escalationFix } from './effects.ts';
import type { Mechanism } from './mechanisms.ts';
import { rankCandidates } from './planner.ts';
import type { CatalogAction, RootCause } from './taxonomy.ts';

const quiet: JudgementFacts = {
  startFailure: false,
  repeatedCrash: false,
  placementFailure: false,
  memory: null,
  memoryPeak: null,
  cpu: null,
  latencyRising: false,
  demandSurge: false,
  dependencyErrors: false,
  credentialRejected: false,
  recentDeployment: null,
  failedRollout: false,
  revisionChanges: [],
  errorsRoseAfterDeploy: null,
  benignStops: 0,
  failedStops: 0,
  tasksPending: false,
  userErrorsFiring: [],
};

const judgement = (mechanism: Mechanism | null, facts: Partial<JudgementFacts> = {}): Judgement => ({
  mechanism,
  evidenceIds: ['signals:1'],
  signatures: [],
  facts: { ...quiet, ...facts },
  fix: null,
});

const service = serviceState({
  fallback: { parameterName: '/shop/api/mode', value: 'fallback' },
  secrets: ['shop/api/db'],
});
const firstDeploy = { ...service, lastKnownGood: null };

const applicable = (action: CatalogAction, j: Judgement, s = service) =>
  assessAction(action, j, s).applicable;

describe('the action effect model', () => {
  it.each<[string, CatalogAction, Judgement, typeof service]>([
    // Placement and capacity: more tasks cannot be placed.
    [
      'scale_out where tasks cannot be placed',
      'scale_out',
      judgement('placement_capacity', { placementFailure: true, cpu: 'high' }),
      service,
    ],
    [
      'scale_out at the registered maximum',
      'scale_out',
      judgement('cpu_bound', { cpu: 'high' }),
      { ...service, desiredCount: 10, maxTasks: 10 },
    ],
    // Latency with flat CPU: the bottleneck is downstream.
    [
      'scale_out for latency with CPU falling',
      'scale_out',
      judgement(null, { latencyRising: true, cpu: 'flat_or_falling', demandSurge: true }),
      service,
    ],
    // Deterministic failures a restart cannot change.
    [
      'restart for a crash every replacement repeats',
      'restart_service',
      judgement('deterministic_crash', { repeatedCrash: true }),
      service,
    ],
    [
      'restart for a task that never starts',
      'restart_service',
      judgement('log_destination_missing', { startFailure: true }),
      service,
    ],
    [
      'restart for a poison message',
      'restart_service',
      judgement('poison_input', { repeatedCrash: true }),
      service,
    ],
    [
      'restart for a wrong CPU architecture',
      'restart_service',
      judgement('architecture_mismatch', { startFailure: true }),
      service,
    ],
    [
      'restart for a dependency refusing connections',
      'restart_service',
      judgement('dependency_unavailable', { dependencyErrors: true }),
      service,
    ],
    // Rotation cannot fix a fetch that never reaches the secret, or a malformed one.
    [
      'rotation when egress is blocked',
      'rotate_secret_and_redeploy',
      judgement('egress_blocked', { startFailure: true }),
      service,
    ],
    [
      'rotation for a secret missing its JSON key',
      'rotate_secret_and_redeploy',
      judgement('secret_malformed', { startFailure: true }),
      service,
    ],
    // Rollback needs a steady earlier revision, a deploy that began it, and a change that explains it.
    [
      'rollback on a first deployment',
      'rollback_task_definition',
      judgement('architecture_mismatch', { startFailure: true }),
      firstDeploy,
    ],
    [
      'rollback with no deployment',
      'rollback_task_definition',
      judgement('health_check_misconfigured'),
      service,
    ],
    [
      'rollback of a revision that changed nothing',
      'rollback_task_definition',
      judgement('code_regression', { recentDeployment: 'api:7', revisionChanges: [] }),
      service,
    ],
    [
      'rollback for a throttled dependency',
      'rollback_task_definition',
      judgement('dependency_unavailable', {
        recentDeployment: 'api:7',
        revisionChanges: ['image'],
        dependencyErrors: true,
      }),
      service,
    ],
    // Memory: a leak is postponed, not fixed; low memory is not short.
    [
      'more memory for a steady leak',
      'increase_memory',
      judgement('memory_leak', { memory: 'growing', memoryPeak: 100 }),
      service,
    ],
    [
      'more memory when memory peaked low',
      'increase_memory',
      judgement('shutdown_kill', { memory: 'low', memoryPeak: 16 }),
      service,
    ],
  ])('rules out %s', (_name, action, j, s) => {
    const assessment = assessAction(action, j, s);
    expect(assessment.applicable).toBe(false);
    expect(
      assessment.contraindications.length + (assessment.indications.length === 0 ? 1 : 0),
    ).toBeGreaterThan(0);
  });

  it.each<[string, CatalogAction, Judgement]>([
    ['scale_out for saturated CPU below the maximum', 'scale_out', judgement('cpu_bound', { cpu: 'high' })],
    ['restart for a steady leak', 'restart_service', judgement('memory_leak', { memory: 'growing' })],
    ['restart for hung workers', 'restart_service', judgement('hung_process')],
    [
      'more memory for a working set at the ceiling',
      'increase_memory',
      judgement('undersized_memory', { memory: 'at_ceiling', memoryPeak: 99 }),
    ],
    [
      'rollback of a deploy that changed the image',
      'rollback_task_definition',
      judgement('code_regression', { recentDeployment: 'api:7', revisionChanges: ['image'] }),
    ],
    [
      'rollback of a configuration-only change',
      'rollback_task_definition',
      judgement('entrypoint_missing', {
        startFailure: true,
        recentDeployment: 'api:7',
        revisionChanges: ['mounts'],
      }),
    ],
    [
      'rotation for a credential the database rejects',
      'rotate_secret_and_redeploy',
      judgement('credentials_rejected', { credentialRejected: true }),
    ],
    [
      'the fallback for an unavailable dependency',
      'switch_to_fallback',
      judgement('dependency_unavailable', { dependencyErrors: true }),
    ],
  ])('allows %s', (_name, action, j) => {
    expect(applicable(action, j)).toBe(true);
  });

  it("lets a second mechanism (a model's) only narrow: its cannotFix rules out what the facts allowed", () => {
    const j = judgement('memory_leak', { memory: 'growing' });
    expect(assessAction('restart_service', j, service).applicable).toBe(true);
    expect(assessAction('restart_service', j, service, 'deterministic_crash').applicable).toBe(false);
  });

  it('keeps only the catalog checks for a diagnosis recorded before mechanisms existed', () => {
    expect(assessAction('scale_out', undefined, service).applicable).toBe(true);
  });

  it('words the escalation with the mechanism, the evidence and the fix', () => {
    const text = escalationFix({ ...judgement('log_destination_missing'), fix: null });
    expect(text).toContain('log_destination_missing');
    expect(text).toContain('signals:1');
    expect(text).toMatch(/create the log group/);
  });
});

describe('the planner never plans a contraindicated action, whoever proposed it', () => {
  const proposal = (
    rootCause: RootCause,
    mechanism: Mechanism,
    facts: Partial<JudgementFacts>,
    actions: CatalogAction[],
  ): DiagnosisProposal => ({
    hypotheses: [
      {
        rootCause,
        component: 'api',
        confidence: 0.9,
        evidenceIds: ['signals:1'],
        explanation: '',
        mechanism,
      },
    ],
    recommendedActions: actions,
    insufficientEvidence: false,
    judgement: judgement(mechanism, facts),
  });

  it('drops a learned success and a runbook step the facts rule out, audits why, and escalates with the fix', () => {
    const ranked = rankCandidates(
      proposal('capacity_shortfall', 'placement_capacity', { placementFailure: true }, ['scale_out']),
      service,
      {
        solutions: [{ action: 'scale_out', lowerBound: 0.9, outcomes: 12 }],
        runbookActions: ['restart_service'],
      },
    );
    expect(ranked.candidates.map((c) => c.action)).toEqual(['escalate']);
    expect(ranked.ruledOut.map((r) => [r.action, r.source])).toEqual([
      ['scale_out', 'knowledge'],
      ['restart_service', 'runbook'],
    ]);
    expect(ranked.ruledOut[0]?.reasons.join(' ')).toMatch(/cannot be placed/);
    const reason = String(ranked.candidates[0]?.parameters.reason);
    expect(reason).toContain('placement_capacity');
    expect(reason).toMatch(/Fix: .*quota/);
  });

  it('keeps an applicable action ahead of escalation', () => {
    const ranked = rankCandidates(
      proposal('oom', 'undersized_memory', { memory: 'at_ceiling', memoryPeak: 98 }, [
        'restart_service',
        'increase_memory',
      ]),
      service,
      { solutions: [], runbookActions: [] },
    );
    expect(ranked.candidates.map((c) => c.action)).toEqual(['increase_memory', 'escalate']);
    expect(ranked.ruledOut.map((r) => r.action)).toEqual(['restart_service']);
  });
});

describe('what a skeptical review broke in planning (each a regression test)', () => {
  const noKnowledge = { solutions: [], runbookActions: [] };

  it("escalates when a model's no-fault contradicts code's evidence of a fault, instead of closing the incident", () => {
    const ranked = rankCandidates(
      {
        hypotheses: [
          { rootCause: 'no_fault', component: 'api', confidence: 0.9, evidenceIds: [], explanation: '' },
        ],
        recommendedActions: ['none'],
        insufficientEvidence: false,
        judgement: judgement('deterministic_crash', { repeatedCrash: true }),
      },
      service,
      noKnowledge,
    );
    expect(ranked.candidates.map((c) => c.action)).toEqual(['escalate']);
    expect(String(ranked.candidates[0]?.parameters.reason)).toMatch(
      /claims no fault but .*deterministic_crash/,
    );
  });

  it("never lets a model's mechanism indicate an action the facts do not", () => {
    // Code found nothing; the model says cpu_bound: scale_out must not become applicable on its word.
    expect(assessAction('scale_out', judgement(null), service, 'cpu_bound').applicable).toBe(false);
    expect(assessAction('restart_service', judgement(null), service, 'memory_leak').applicable).toBe(false);
  });

  it('rules out scale_out and restart for crashes right after a deploy too', () => {
    const j = judgement('code_regression', {
      repeatedCrash: true,
      cpu: 'high',
      recentDeployment: 'api:7',
      revisionChanges: ['image'],
    });
    expect(applicable('scale_out', j)).toBe(false);
    expect(applicable('restart_service', j)).toBe(false);
    expect(applicable('rollback_task_definition', j)).toBe(true);
  });

  it('rules out scale_out while tasks already wait to be placed', () => {
    expect(applicable('scale_out', judgement('cpu_bound', { cpu: 'high', tasksPending: true }))).toBe(false);
  });
});
