/**
 * Approval tokens: a signed, expiring token bound to a hash of exactly what a
 * human approves — incident, action, parameters, policy version. Changing any
 * of them, or the token, or waiting past expiry voids it; a token is spent
 * once (the store records its nonce). Pure: the caller supplies the secret,
 * the clock and the nonce.
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

export interface ApprovalClaims {
  incidentId: string;
  /** sha256 of the canonical binding. */
  binding: string;
  expiresAt: string;
  /** Unique per request: the store refuses a second use. */
  nonce: string;
}

export type TokenCheck =
  | { ok: true; claims: ApprovalClaims }
  | { ok: false; reason: 'malformed' | 'tampered' | 'expired' | 'mismatch' };

const version = 'v1';
/** Signing keys shorter than this are refused: a guessable key is no approval at all. */
export const minSecretBytes = 32;

export const bindingHash = (binding: ApprovalBinding): string => sha256(canonicalJson(binding));

const b64 = (data: string | Buffer) => Buffer.from(data).toString('base64url');
const sign = (payload: string, secret: string) =>
  createHmac('sha256', secret).update(`${version}.${payload}`).digest();

function assertSecret(secret: string) {
  if (Buffer.byteLength(secret) < minSecretBytes)
    throw new Error(`the approval signing secret must be at least ${minSecretBytes} bytes`);
}

export function issueToken(
  binding: ApprovalBinding,
  options: { secret: string; now: Date; ttlMs: number; nonce: string },
): { token: string; claims: ApprovalClaims } {
  assertSecret(options.secret);
  const claims: ApprovalClaims = {
    incidentId: binding.incidentId,
    binding: bindingHash(binding),
    expiresAt: new Date(options.now.getTime() + options.ttlMs).toISOString(),
    nonce: options.nonce,
  };
  const payload = b64(canonicalJson(claims));
  return { token: `${version}.${payload}.${b64(sign(payload, options.secret))}`, claims };
}

/**
 * Checks signature, expiry and — when `expected` is given — that the token
 * approves exactly that binding. Replay is the store's part (the nonce).
 */
export function verifyToken(
  token: string,
  secret: string,
  now: Date,
  expected?: ApprovalBinding,
): TokenCheck {
  assertSecret(secret);
  const parts = token.split('.');
  if (parts.length !== 3 || parts[0] !== version || !parts[1] || !parts[2])
    return { ok: false, reason: 'malformed' };
  const [, payload, signature] = parts as [string, string, string];
  const given = Buffer.from(signature, 'base64url');
  const wanted = sign(payload, secret);
  if (given.length !== wanted.length || !timingSafeEqual(given, wanted))
    return { ok: false, reason: 'tampered' };
  let claims: ApprovalClaims;
  try {
    claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as ApprovalClaims;
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  if (typeof claims.expiresAt !== 'string' || !(now.getTime() < Date.parse(claims.expiresAt)))
    return { ok: false, reason: 'expired' };
  if (expected && (claims.binding !== bindingHash(expected) || claims.incidentId !== expected.incidentId))
    return { ok: false, reason: 'mismatch' };
  return { ok: true, claims };
}
