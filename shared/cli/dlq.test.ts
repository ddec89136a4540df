import { describe, expect, it } from 'vitest';
import { foreignTarget } from './dlq.ts';

describe('dlq redrive targets', () => {
  const payload = { detail: {} };
  it('re-delivers only to the agent whose queue it is, whatever the dead letter names', () => {
    const own = 'arn:aws:lambda:eu-west-1:111111111111:function:Homeostat-Plan-abc';
    expect(
      foreignTarget({ kind: 'invoke', functionArn: own, payload }, 'Homeostat-Plan-abc'),
    ).toBeUndefined();
    expect(
      foreignTarget({ kind: 'invoke', functionArn: `${own}:$LATEST`, payload }, 'Homeostat-Plan-abc'),
    ).toBeUndefined();
    expect(
      foreignTarget(
        {
          kind: 'invoke',
          functionArn: 'arn:aws:lambda:eu-west-1:111111111111:function:delete-everything',
          payload,
        },
        'Homeostat-Plan-abc',
      ),
    ).toMatch(/names .*delete-everything, not this agent's function Homeostat-Plan-abc: left in place/);
  });
});
