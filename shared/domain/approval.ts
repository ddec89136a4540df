/**
 * Approval tokens: signed, expiring tokens bound to a hash of exactly what a
 * human approves — incident, action, parameters, policy version — and to one
 * step and one decision. A request gets two tokens, one that approves and one
 * that rejects: the reject link cannot approve, nor either decide another
 * step. Changing anything, or waiting past expiry, voids them. The store keeps
 * only their hashes and spends a request once (by its nonce). Pure: the caller
 * supplies the secret, the clock and the nonce.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { ActionParameters } from './actions.ts';
import { canonicalJson, sha256 } from './knowledge.ts';
import type { CatalogAction } from './taxonomy.ts';

export interface ApprovalBinding {
  incidentId: string;
  action: CatalogAction;
  parameters: ActionParameters;
  policyVersion: string;
}

export const decisions = ['approve', 'reject'] as const;
export type Decision = (typeof decisions)[number];

/** The principal recorded for a decision made through a link: whoever holds it (it proves no more). */
export const linkHolder = 'link holder';

export interface ApprovalClaims {
  incidentId: string;
  step: number;
  /** The only decision this token makes. */
  decision: Decision;
  /** sha256 of the canonical binding. */
  binding: string;
  expiresAt: string;
  /** Unique per request (shared by its two tokens): the store spends it once. */
  nonce: string;
}

export type TokenCheck =
  | { ok: true; claims: ApprovalClaims }
  | { ok: false; reason: 'malformed' | 'tampered' | 'expired' | 'mismatch' | 'wrong_decision' };

/** v2: claims name the step and the decision (v1 tokens, one for both decisions, are malformed now). */
const version = 'v2';
/** Signing keys shorter than this are refused: a guessable key is no approval at all. */
export const minSecretBytes = 32;

export const bindingHash = (binding: ApprovalBinding): string => sha256(canonicalJson(binding));

/** What the store keeps of a token: never the token itself. */
export const tokenHash = (token: string): string => sha256(token);

/** Compares two hex hashes in constant time (false for anything that is not a 32-byte hex hash). */
export function sameHash(a: string, b: string): boolean {
  const hex = /^[0-9a-f]{64}$/;
  if (!hex.test(a) || !hex.test(b)) return false;
  return timingSafeEqual(Buffer.from(a, 'hex'), Buffer.from(b, 'hex'));
}

const b64 = (data: string | Buffer) => Buffer.from(data).toString('base64url');
const sign = (payload: string, secret: string) =>
  createHmac('sha256', secret).update(`${version}.${payload}`).digest();

function assertSecret(secret: string) {
  if (Buffer.byteLength(secret) < minSecretBytes)
    throw new Error(`the approval signing secret must be at least ${minSecretBytes} bytes`);
}

export function issueToken(
  binding: ApprovalBinding,
  options: { secret: string; now: Date; ttlMs: number; nonce: string; step: number; decision: Decision },
): { token: string; claims: ApprovalClaims } {
  assertSecret(options.secret);
  const claims: ApprovalClaims = {
    incidentId: binding.incidentId,
    step: options.step,
    decision: options.decision,
    binding: bindingHash(binding),
    expiresAt: new Date(options.now.getTime() + options.ttlMs).toISOString(),
    nonce: options.nonce,
  };
  const payload = b64(canonicalJson(claims));
  return { token: `${version}.${payload}.${b64(sign(payload, options.secret))}`, claims };
}

export interface DecisionTokens {
  /** The request's nonce, binding hash and expiry (the same for both tokens). */
  nonce: string;
  binding: string;
  expiresAt: string;
  tokens: Record<Decision, string>;
  /** What the store keeps. */
  hashes: Record<Decision, string>;
}

/** The two tokens of one approval request: one approves, the other rejects. */
export function issueDecisionTokens(
  binding: ApprovalBinding,
  options: { secret: string; now: Date; ttlMs: number; nonce: string; step: number },
): DecisionTokens {
  const approve = issueToken(binding, { ...options, decision: 'approve' });
  const reject = issueToken(binding, { ...options, decision: 'reject' });
  return {
    nonce: approve.claims.nonce,
    binding: approve.claims.binding,
    expiresAt: approve.claims.expiresAt,
    tokens: { approve: approve.token, reject: reject.token },
    hashes: { approve: tokenHash(approve.token), reject: tokenHash(reject.token) },
  };
}

const isClaims = (c: unknown): c is ApprovalClaims => {
  const x = c as Partial<ApprovalClaims> | null;
  return (
    typeof x === 'object' &&
    x !== null &&
    typeof x.incidentId === 'string' &&
    Number.isInteger(x.step) &&
    (x.decision === 'approve' || x.decision === 'reject') &&
    typeof x.binding === 'string' &&
    typeof x.expiresAt === 'string' &&
    typeof x.nonce === 'string'
  );
};

/** The signature (constant time) and the shape of the claims; not expiry, not what it is for. */
export function readToken(token: string, secret: string): TokenCheck {
  assertSecret(secret);
  const parts = token.split('.');
  if (parts.length !== 3 || parts[0] !== version || !parts[1] || !parts[2])
    return { ok: false, reason: 'malformed' };
  const [, payload, signature] = parts as [string, string, string];
  const given = Buffer.from(signature, 'base64url');
  const wanted = sign(payload, secret);
  if (given.length !== wanted.length || !timingSafeEqual(given, wanted))
    return { ok: false, reason: 'tampered' };
  let claims: unknown;
  try {
    claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  return isClaims(claims) ? { ok: true, claims } : { ok: false, reason: 'malformed' };
}

/**
 * Checks signature, expiry and — for what `expected` names — that the token
 * makes exactly that decision, for that step and binding. Replay and the
 * stored hash are the store's part.
 */
export function verifyToken(
  token: string,
  secret: string,
  now: Date,
  expected: { decision?: Decision; step?: number; binding?: ApprovalBinding } = {},
): TokenCheck {
  const read = readToken(token, secret);
  if (!read.ok) return read;
  const { claims } = read;
  if (expected.decision && claims.decision !== expected.decision)
    return { ok: false, reason: 'wrong_decision' };
  if (!(now.getTime() < Date.parse(claims.expiresAt))) return { ok: false, reason: 'expired' };
  if (expected.step !== undefined && claims.step !== expected.step) return { ok: false, reason: 'mismatch' };
  const b = expected.binding;
  if (b && (claims.binding !== bindingHash(b) || claims.incidentId !== b.incidentId))
    return { ok: false, reason: 'mismatch' };
  return { ok: true, claims };
}
