import { describe, expect, it } from 'vitest';
import { claimedFault, isConflicted, validateProposal } from './diagnosis.ts';

const ids = new Set(['logs:1', 'metrics:1']);
const hypothesis = (overrides: Record<string, unknown> = {}) => ({
  rootCause: 'oom',
  component: 'api',
  confidence: 0.8,
  evidenceIds: ['metrics:1'],
  explanation: 'memory at the limit',
  ...overrides,
});
const proposal = (overrides: Record<string, unknown> = {}) => ({
  hypotheses: [hypothesis()],
  recommendedActions: ['increase_memory'],
  insufficientEvidence: false,
  ...overrides,
});

describe('validateProposal', () => {
  it('accepts a cited, catalog-only proposal and ranks hypotheses by confidence', () => {
    const result = validateProposal(
      proposal({ hypotheses: [hypothesis({ confidence: 0.3, rootCause: 'cpu_saturation' }), hypothesis()] }),
      ids,
    );
    expect(result.ok && result.proposal.hypotheses.map((h) => h.rootCause)).toEqual([
      'oom',
      'cpu_saturation',
    ]);
  });

  it.each([
    ['not an object', 'nope', /JSON object/],
    [
      'an unknown root cause',
      proposal({ hypotheses: [hypothesis({ rootCause: 'gremlins' })] }),
      /not in the taxonomy/,
    ],
    [
      'evidence that was never gathered',
      proposal({ hypotheses: [hypothesis({ evidenceIds: ['logs:9'] })] }),
      /does not exist: logs:9/,
    ],
    ['no citation', proposal({ hypotheses: [hypothesis({ evidenceIds: [] })] }), /cites no evidence/],
    ['a confidence above 1', proposal({ hypotheses: [hypothesis({ confidence: 7 })] }), /from 0 to 1/],
    [
      'an action outside the catalog',
      proposal({ recommendedActions: ['scale_to_zero'] }),
      /"scale_to_zero" is not in the action catalog/,
    ],
    [
      'no hypotheses and no insufficient-evidence flag',
      proposal({ hypotheses: [] }),
      /at least one hypothesis/,
    ],
    ['a missing flag', { hypotheses: [hypothesis()], recommendedActions: [] }, /insufficientEvidence/],
  ])('refuses %s', (_name, raw, problem) => {
    const result = validateProposal(raw, ids);
    expect(result.ok).toBe(false);
    expect(result.ok ? [] : result.problems.join('\n')).toMatch(problem);
  });

  it('accepts "insufficient evidence" as an answer', () => {
    const result = validateProposal(
      proposal({ hypotheses: [], insufficientEvidence: true, recommendedActions: ['escalate'] }),
      ids,
    );
    expect(result).toMatchObject({ ok: true, proposal: { insufficientEvidence: true } });
  });
});

describe('claims and conflicts', () => {
  const ok = (raw: unknown) => {
    const result = validateProposal(raw, ids);
    if (!result.ok) throw new Error(result.problems.join('; '));
    return result.proposal;
  };
  it('claims a fault only with a confident, non-control top hypothesis', () => {
    expect(claimedFault(ok(proposal()))?.rootCause).toBe('oom');
    expect(claimedFault(ok(proposal({ hypotheses: [hypothesis({ confidence: 0.4 })] })))).toBeNull();
    expect(
      claimedFault(ok(proposal({ hypotheses: [hypothesis({ rootCause: 'no_fault', evidenceIds: [] })] }))),
    ).toBeNull();
  });
  it('sees close, different top hypotheses as a conflict', () => {
    expect(
      isConflicted(
        ok(
          proposal({
            hypotheses: [hypothesis(), hypothesis({ rootCause: 'cpu_saturation', confidence: 0.75 })],
          }),
        ),
      ),
    ).toBe(true);
    expect(
      isConflicted(
        ok(
          proposal({
            hypotheses: [hypothesis(), hypothesis({ rootCause: 'cpu_saturation', confidence: 0.3 })],
          }),
        ),
      ),
    ).toBe(false);
  });
});
