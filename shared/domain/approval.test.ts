import { describe, expect, it } from 'vitest';
import {
  type ApprovalBinding,
  bindingHash,
  issueDecisionTokens,
  issueToken,
  readToken,
  sameHash,
  tokenHash,
  verifyToken,
} from './approval.ts';

const secret = 'k'.repeat(48);
const now = new Date('2026-11-20T10:00:00Z');
const binding: ApprovalBinding = {
  incidentId: 'inc-1',
  action: 'rollback_task_definition',
  parameters: { taskDefinition: 'api:6' },
  policyVersion: 'policy-v1',
};
const options = { secret, now, ttlMs: 30 * 60_000, nonce: 'n-1', step: 1 };
const issue = (decision: 'approve' | 'reject' = 'approve') => issueToken(binding, { ...options, decision });
const later = (minutes: number) => new Date(now.getTime() + minutes * 60_000);

describe('approval tokens', () => {
  it('verifies a fresh token for exactly its decision, step and binding', () => {
    const { token, claims } = issue();
    expect(verifyToken(token, secret, later(5), { decision: 'approve', step: 1, binding })).toEqual({
      ok: true,
      claims,
    });
    expect(claims).toMatchObject({
      incidentId: 'inc-1',
      step: 1,
      decision: 'approve',
      expiresAt: '2026-11-20T10:30:00.000Z',
      nonce: 'n-1',
    });
  });

  it('issues one token per decision: distinct, each deciding only its own choice', () => {
    const issued = issueDecisionTokens(binding, options);
    expect(issued.tokens.approve).not.toBe(issued.tokens.reject);
    expect(issued.hashes).toEqual({
      approve: tokenHash(issued.tokens.approve),
      reject: tokenHash(issued.tokens.reject),
    });
    expect(issued).toMatchObject({
      nonce: 'n-1',
      binding: bindingHash(binding),
      expiresAt: '2026-11-20T10:30:00.000Z',
    });
    // The reject link presented to approve (and the other way round) is refused.
    expect(verifyToken(issued.tokens.reject, secret, later(1), { decision: 'approve' })).toEqual({
      ok: false,
      reason: 'wrong_decision',
    });
    expect(verifyToken(issued.tokens.approve, secret, later(1), { decision: 'reject' })).toEqual({
      ok: false,
      reason: 'wrong_decision',
    });
    expect(verifyToken(issued.tokens.reject, secret, later(1), { decision: 'reject' }).ok).toBe(true);
  });

  it('refuses a token of one step for another', () => {
    const { token } = issue();
    expect(verifyToken(token, secret, later(1), { decision: 'approve', step: 2, binding })).toEqual({
      ok: false,
      reason: 'mismatch',
    });
  });

  it('binds the hash to the parameters regardless of key order', () => {
    const reordered = { ...binding, parameters: { ...binding.parameters } };
    expect(bindingHash(reordered)).toBe(bindingHash(binding));
  });

  it('compares stored hashes in constant time, refusing anything that is not a hash', () => {
    const h = tokenHash('a');
    expect(sameHash(h, tokenHash('a'))).toBe(true);
    expect(sameHash(h, tokenHash('b'))).toBe(false);
    expect(sameHash(h, h.toUpperCase())).toBe(false);
    expect(sameHash(h, '')).toBe(false);
  });

  it.each([
    ['expired', () => verifyToken(issue().token, secret, later(30))],
    ['tampered', () => verifyToken(`${issue().token.slice(0, -2)}AA`, secret, later(1))],
    ['tampered', () => verifyToken(issue().token, 'x'.repeat(48), later(1))],
    [
      'tampered',
      () => {
        // A forged payload (the other decision) under the original signature.
        const [v, payload, sig] = issue('reject').token.split('.') as [string, string, string];
        const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
        claims.decision = 'approve';
        return verifyToken(
          `${v}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${sig}`,
          secret,
          later(1),
        );
      },
    ],
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
        verifyToken(issue().token, secret, later(1), {
          binding: { ...binding, parameters: { taskDefinition: 'api:1' } },
        }),
    ],
    [
      'mismatch',
      () =>
        verifyToken(issue().token, secret, later(1), { binding: { ...binding, action: 'restart_service' } }),
    ],
    [
      'mismatch',
      () =>
        verifyToken(issue().token, secret, later(1), { binding: { ...binding, policyVersion: 'policy-v2' } }),
    ],
    [
      'mismatch',
      () => verifyToken(issue().token, secret, later(1), { binding: { ...binding, incidentId: 'inc-2' } }),
    ],
    ['malformed', () => verifyToken('not-a-token', secret, later(1))],
    ['malformed', () => verifyToken('v0.abc.def', secret, later(1))],
    [
      'malformed',
      // A v1 token (one token for both decisions) is not accepted any more.
      () => verifyToken(`v1.${issue().token.split('.').slice(1).join('.')}`, secret, later(1)),
    ],
  ])('refuses a token that is %s', (reason, check) => {
    expect(check()).toEqual({ ok: false, reason });
  });

  it('reads a signed token without judging expiry (the store decides what a late click gets)', () => {
    const { token, claims } = issue('reject');
    expect(readToken(token, secret)).toEqual({ ok: true, claims });
    expect(verifyToken(token, secret, later(31))).toEqual({ ok: false, reason: 'expired' });
  });

  it('refuses a signing secret too short to be safe', () => {
    expect(() => issueToken(binding, { ...options, secret: 'short', decision: 'approve' })).toThrow(
      /at least 32 bytes/,
    );
  });
});
