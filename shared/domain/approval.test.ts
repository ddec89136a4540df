import { describe, expect, it } from 'vitest';
import { type ApprovalBinding, bindingHash, issueToken, verifyToken } from './approval.ts';

const secret = 'k'.repeat(48);
const now = new Date('2026-11-20T10:00:00Z');
const binding: ApprovalBinding = {
  incidentId: 'inc-1',
  action: 'rollback_task_definition',
  parameters: { taskDefinition: 'api:6' },
  policyVersion: 'policy-v1',
};
const issue = () => issueToken(binding, { secret, now, ttlMs: 30 * 60_000, nonce: 'n-1' });
const later = (minutes: number) => new Date(now.getTime() + minutes * 60_000);

describe('approval tokens', () => {
  it('verifies a fresh token for exactly its binding', () => {
    const { token, claims } = issue();
    expect(verifyToken(token, secret, later(5), binding)).toEqual({ ok: true, claims });
    expect(claims).toMatchObject({
      incidentId: 'inc-1',
      expiresAt: '2026-11-20T10:30:00.000Z',
      nonce: 'n-1',
    });
  });

  it('binds the hash to the parameters regardless of key order', () => {
    const reordered = { ...binding, parameters: { ...binding.parameters } };
    expect(bindingHash(reordered)).toBe(bindingHash(binding));
  });

  it.each([
    ['expired', () => verifyToken(issue().token, secret, later(30))],
    ['tampered', () => verifyToken(`${issue().token.slice(0, -2)}AA`, secret, later(1))],
    ['tampered', () => verifyToken(issue().token, 'x'.repeat(48), later(1))],
    [
      'tampered',
      () => {
        // A forged payload (longer expiry) under the original signature.
        const [v, payload, sig] = issue().token.split('.') as [string, string, string];
        const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
        claims.expiresAt = '2030-01-01T00:00:00.000Z';
        return verifyToken(
          `${v}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${sig}`,
          secret,
          later(1),
        );
      },
    ],
    [
      'mismatch',
      () =>
        verifyToken(issue().token, secret, later(1), { ...binding, parameters: { taskDefinition: 'api:1' } }),
    ],
    [
      'mismatch',
      () => verifyToken(issue().token, secret, later(1), { ...binding, action: 'restart_service' }),
    ],
    [
      'mismatch',
      () => verifyToken(issue().token, secret, later(1), { ...binding, policyVersion: 'policy-v2' }),
    ],
    ['mismatch', () => verifyToken(issue().token, secret, later(1), { ...binding, incidentId: 'inc-2' })],
    ['malformed', () => verifyToken('not-a-token', secret, later(1))],
    ['malformed', () => verifyToken('v0.abc.def', secret, later(1))],
  ])('refuses a token that is %s', (reason, check) => {
    expect(check()).toEqual({ ok: false, reason });
  });

  it('refuses a signing secret too short to be safe', () => {
    expect(() => issueToken(binding, { secret: 'short', now, ttlMs: 1, nonce: 'n' })).toThrow(
      /at least 32 bytes/,
    );
  });
});
