import { describe, expect, it } from 'vitest';
import { type ApprovalDeps, approvalCommand } from './approve.ts';

const arn = 'arn:aws:sts::123456789012:assumed-role/Operator/ana';

function deps(answer: unknown, calls: { fn: string; payload: object }[] = []): ApprovalDeps {
  return {
    principal: async () => arn,
    functionName: async ({ stack, fn }) => fn ?? `${stack}-approve`,
    invoke: async (fn, payload) => {
      calls.push({ fn, payload });
      return answer;
    },
  };
}

describe('homeostat approve|reject', () => {
  it('invokes the stack’s approval function for the incident as the caller’s IAM identity, and says what was approved', async () => {
    const calls: { fn: string; payload: object }[] = [];
    const out = await approvalCommand(
      'approve',
      ['inc-1'],
      deps({ outcome: 'approved', action: 'scale_out', step: 1, incidentId: 'inc-1', decidedBy: arn }, calls),
    );
    expect(out).toEqual({
      stdout: `approved: scale_out (step 1) on incident inc-1 by ${arn}\n`,
      stderr: '',
      exitCode: 0,
    });
    expect(calls).toEqual([
      { fn: 'Homeostat-approve', payload: { incidentId: 'inc-1', decision: 'approve', decidedBy: arn } },
    ]);
  });

  it('rejects through a chosen function, printing JSON for scripts; no self-declared name', async () => {
    const calls: { fn: string; payload: object }[] = [];
    const answer = { outcome: 'rejected', action: 'increase_memory', step: 2, incidentId: 'inc-2' };
    const out = await approvalCommand('reject', ['inc-2', '--function', 'fn', '--json'], deps(answer, calls));
    expect(JSON.parse(out.stdout)).toEqual(answer);
    expect(calls[0]).toEqual({
      fn: 'fn',
      payload: { incidentId: 'inc-2', decision: 'reject', decidedBy: arn },
    });
    // The principal is who the credentials are, not a name on the command line.
    expect((await approvalCommand('reject', ['inc-2', '--by', 'bo'], deps(answer))).exitCode).toBe(2);
  });

  it('exits 1 without invoking when STS cannot say who you are', async () => {
    const calls: { fn: string; payload: object }[] = [];
    const out = await approvalCommand('approve', ['inc-1'], {
      ...deps(null, calls),
      principal: async () => {
        throw new Error('cannot tell your IAM identity: expired token');
      },
    });
    expect(out).toEqual({
      stdout: '',
      stderr: 'cannot tell your IAM identity: expired token\n',
      exitCode: 1,
    });
    expect(calls).toEqual([]);
  });

  it('exits 1 with the reason when the function refuses, 2 on bad usage', async () => {
    const refused = await approvalCommand(
      'approve',
      ['inc-3'],
      deps({
        outcome: 'refused',
        reason: 'incident inc-3 has no open approval request',
        incidentId: 'inc-3',
      }),
    );
    expect(refused).toMatchObject({
      exitCode: 1,
      stderr: 'not approved: incident inc-3 has no open approval request\n',
    });
    expect((await approvalCommand('approve', [], deps(null))).exitCode).toBe(2);
    expect((await approvalCommand('approve', ['a', 'b'], deps(null))).exitCode).toBe(2);
    expect((await approvalCommand('approve', ['a', '--nope'], deps(null))).exitCode).toBe(2);
  });
});
