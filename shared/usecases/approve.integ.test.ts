import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMigratedDatabase, type TestDatabase } from '../../localstack/testing.ts';
import { PostgresRemediationStore } from '../adapters/remediation-store.ts';
import { type ApprovalBinding, issueDecisionTokens, issueToken, linkHolder } from '../domain/approval.ts';
import { policyVersion } from '../domain/policy.ts';
import type { EventPublisher } from '../domain/ports.ts';
import { detailTypes } from '../events/detail-types.ts';
import { FakeBus } from '../testing/fakes.ts';
import { type ApproveDeps, decideApproval, expireApprovals } from './approve.ts';
import { idempotencyKey } from './remediation-ports.ts';

const secret = 'an-approval-signing-key-of-at-least-32-bytes';
const ttlMs = 30 * 60_000;
const arn = 'arn:aws:sts::123456789012:assumed-role/Operator/ana';

/**
 * Approvals on PGlite: one token per decision (a reject link never approves),
 * the deciding principal in the request row and the audit log, idempotent
 * decisions, and the expiry sweep releasing what a waiting request holds.
 * The request is made as the plan agent makes it (issueDecisionTokens and one
 * commit), so no emulator is needed.
 */
describe('approvals', () => {
  let database: TestDatabase;
  let store: PostgresRemediationStore;
  const t0 = new Date('2026-11-20T10:00:00Z');
  let now = t0;
  const clock = { now: () => now };
  const at = (minutes: number) => new Date(t0.getTime() + minutes * 60_000);
  let bus: FakeBus;
  let deps: ApproveDeps;

  beforeAll(async () => {
    database = await startMigratedDatabase();
    store = new PostgresRemediationStore(database.pool);
  });
  afterAll(async () => database?.stop());

  /** A new bus and clock; requests earlier tests left undecided are settled, so each sweep sees only its own. */
  const fresh = async () => {
    now = t0;
    bus = new FakeBus();
    deps = { store, secret: async () => secret, bus, clock };
    await database.pool.query(
      `UPDATE approvals SET decision = 'expired', decided_at = expires_at, decided_via = 'expiry' WHERE decision IS NULL`,
    );
  };

  /** An incident awaiting approval of `scale_out` at step `step` on its own service, holding the lease. */
  async function awaiting(options: { incidentId?: string; step?: number; service?: string } = {}) {
    const incidentId = options.incidentId ?? randomUUID();
    const service = options.service ?? `svc-${incidentId.slice(0, 8)}`;
    const stepNo = options.step ?? 1;
    if (!options.incidentId) {
      await database.pool.query(
        `INSERT INTO incidents (id, cluster, service, state, title, fingerprint, opened_at, updated_at, last_signal_at)
         VALUES ($1, 'shop', $2, 'diagnosing', 't', 'fp-' || $2, $3, $3, $3)`,
        [incidentId, service, now.toISOString()],
      );
      expect(
        await store.acquireLease({ cluster: 'shop', service }, incidentId, now, 2 * 60 * 60_000),
      ).toBeNull();
    }
    const parameters = { desiredCount: 4 + stepNo };
    const binding: ApprovalBinding = { incidentId, action: 'scale_out', parameters, policyVersion };
    const issued = issueDecisionTokens(binding, { secret, now, ttlMs, nonce: randomUUID(), step: stepNo });
    const committed = await store.commit({
      incidentId,
      at: now,
      causationId: `test:${incidentId}:${stepNo}`,
      newStep: {
        incidentId,
        step: stepNo,
        service: { cluster: 'shop', service },
        fingerprint: `fp-${service}`,
        action: 'scale_out',
        parameters,
        mode: 'approve',
        status: 'awaiting_approval',
        policyVersion,
        snapshot: null,
      },
      approvalRequest: {
        nonce: issued.nonce,
        step: stepNo,
        bindingHash: issued.binding,
        expiresAt: new Date(issued.expiresAt),
        tokenHashes: issued.hashes,
      },
      incidentPath: ['planned', 'awaiting_approval'],
    });
    expect(committed).toBe('committed');
    return { incidentId, service, binding, nonce: issued.nonce, ...issued.tokens };
  }

  const query = async (sql: string, params: unknown[]) => (await database.pool.query(sql, params)).rows;
  const row = async (nonce: string) =>
    (
      await query(
        'SELECT decision, decided_by, decided_via, approve_token_hash, reject_token_hash FROM approvals WHERE nonce = $1',
        [nonce],
      )
    )[0];
  const state = async (id: string) =>
    (await query('SELECT state FROM incidents WHERE id = $1', [id]))[0]?.state;
  const stepStatus = async (id: string, n = 1) => (await store.step(idempotencyKey(id, n)))?.status;
  const lease = async (service: string) =>
    (
      await query("SELECT incident_id FROM remediation_leases WHERE cluster = 'shop' AND service = $1", [
        service,
      ])
    )[0]?.incident_id ?? null;
  const audit = async (id: string) =>
    (await query('SELECT actor, action, result, detail FROM audit_log WHERE incident_id = $1 ORDER BY id', [
      id,
    ])) as {
      actor: string;
      action: string;
      result: string;
      detail: Record<string, unknown>;
    }[];
  const published = (type: string) => bus.published.filter((e) => e.type === type);

  it('a reject link cannot approve, nor an approve link reject (one token served both before)', async () => {
    await fresh();
    const r = await awaiting();
    // Only hashes are stored: neither token is in the row.
    const stored = await row(r.nonce);
    expect(stored.approve_token_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(stored)).not.toContain(r.approve);
    expect(JSON.stringify(stored)).not.toContain(r.reject);

    expect(await decideApproval({ token: r.reject, decision: 'approve' }, deps)).toEqual({
      outcome: 'refused',
      reason: 'this link can only reject; it cannot approve (use the approve link or the CLI)',
      incidentId: r.incidentId,
    });
    expect(await decideApproval({ token: r.approve, decision: 'reject' }, deps)).toMatchObject({
      outcome: 'refused',
      reason: expect.stringContaining('this link can only approve'),
    });
    expect(await state(r.incidentId)).toBe('awaiting_approval');
    expect(await stepStatus(r.incidentId)).toBe('awaiting_approval');
    expect(bus.published).toEqual([]);
  });

  it('records "link holder" as the principal of a link decision; the same click again answers the same, the other is refused', async () => {
    await fresh();
    const r = await awaiting();
    now = at(5);
    const first = await decideApproval(
      { token: r.approve, decision: 'approve', note: { name: 'Ana', sourceIp: '203.0.113.9' } },
      deps,
    );
    expect(first).toEqual({
      outcome: 'approved',
      incidentId: r.incidentId,
      step: 1,
      action: 'scale_out',
      decidedBy: linkHolder,
      decidedAt: at(5).toISOString(),
    });
    expect(await row(r.nonce)).toMatchObject({
      decision: 'approved',
      decided_by: 'link holder',
      decided_via: 'link',
    });
    expect(await stepStatus(r.incidentId)).toBe('planned');
    expect(published(detailTypes.planApproved).map((e) => e.data)).toEqual([
      expect.objectContaining({ approvedBy: 'link holder', step: 1 }),
    ]);
    const decision = (await audit(r.incidentId)).filter((a) => a.action === 'approval.decision');
    expect(decision).toEqual([
      {
        actor: 'human:link holder',
        action: 'approval.decision',
        result: 'approved',
        detail: { via: 'link', principal: 'link holder', name: 'Ana', sourceIp: '203.0.113.9' },
      },
    ]);

    // A second click, later: the same answer, nothing new happens.
    now = at(7);
    expect(await decideApproval({ token: r.approve, decision: 'approve' }, deps)).toEqual(first);
    expect(published(detailTypes.planApproved)).toHaveLength(1);
    // The other decision after this one: refused, saying why.
    expect(await decideApproval({ token: r.reject, decision: 'reject' }, deps)).toEqual({
      outcome: 'refused',
      reason: `step 1 (scale_out) was already approved by link holder at ${at(5).toISOString()}; it cannot be rejected now`,
      incidentId: r.incidentId,
    });
    expect(await stepStatus(r.incidentId)).toBe('planned');
    expect(published(detailTypes.incidentEscalated)).toEqual([]);
  });

  it('a token for one step decides nothing for another step', async () => {
    await fresh();
    const one = await awaiting();
    expect(await decideApproval({ token: one.approve, decision: 'approve' }, deps)).toMatchObject({
      outcome: 'approved',
      step: 1,
    });
    // Step 1 acted and failed; step 2 waits for its own approval.
    await store.moveStep(idempotencyKey(one.incidentId, 1), ['planned'], 'failed');
    await database.pool.query("UPDATE incidents SET state = 'verifying' WHERE id = $1", [one.incidentId]);
    const two = await awaiting({ incidentId: one.incidentId, service: one.service, step: 2 });
    // Step 1's links still speak of step 1 only.
    expect(await decideApproval({ token: one.approve, decision: 'approve' }, deps)).toMatchObject({
      outcome: 'approved',
      step: 1,
    });
    expect(await decideApproval({ token: one.reject, decision: 'reject' }, deps)).toMatchObject({
      outcome: 'refused',
      reason: expect.stringContaining('step 1 (scale_out) was already approved'),
    });
    // A token for step 2 under step 1's request (made with the signing key itself) matches no stored hash.
    const forged = issueToken(two.binding, {
      secret,
      now,
      ttlMs,
      nonce: one.nonce,
      step: 2,
      decision: 'approve',
    }).token;
    expect(await decideApproval({ token: forged, decision: 'approve' }, deps)).toMatchObject({
      outcome: 'refused',
      reason: 'the approval link does not match a request',
    });
    expect(await stepStatus(one.incidentId, 2)).toBe('awaiting_approval');
    expect(published(detailTypes.planApproved)).toHaveLength(1);
    // Step 2's own reject link rejects step 2.
    expect(await decideApproval({ token: two.reject, decision: 'reject' }, deps)).toMatchObject({
      outcome: 'rejected',
      step: 2,
    });
    expect(await stepStatus(one.incidentId, 2)).toBe('rejected');
    expect(await state(one.incidentId)).toBe('escalated');
    expect(await lease(one.service)).toBeNull();
  });

  it('records the IAM identity as the principal of a CLI decision; idempotent, and the other decision is refused', async () => {
    await fresh();
    const r = await awaiting();
    const first = await decideApproval(
      { incidentId: r.incidentId, decision: 'reject', decidedBy: arn },
      deps,
    );
    expect(first).toMatchObject({ outcome: 'rejected', decidedBy: arn, step: 1 });
    expect(await row(r.nonce)).toMatchObject({ decision: 'rejected', decided_by: arn, decided_via: 'cli' });
    expect((await audit(r.incidentId)).find((a) => a.action === 'approval.decision')).toMatchObject({
      actor: `human:${arn}`,
      result: 'rejected',
      detail: { via: 'cli', principal: arn },
    });
    expect(await state(r.incidentId)).toBe('escalated');
    expect(await stepStatus(r.incidentId)).toBe('rejected');
    expect(await lease(r.service)).toBeNull();
    expect(published(detailTypes.incidentEscalated).map((e) => e.data)).toEqual([
      expect.objectContaining({ reason: `${arn} rejected scale_out` }),
    ]);

    expect(
      await decideApproval({ incidentId: r.incidentId, decision: 'reject', decidedBy: 'someone-else' }, deps),
    ).toEqual(first);
    expect(
      await decideApproval({ incidentId: r.incidentId, decision: 'approve', decidedBy: arn }, deps),
    ).toMatchObject({
      outcome: 'refused',
      reason: expect.stringMatching(
        /^step 1 \(scale_out\) was already rejected by arn:aws:sts::.*; it cannot be approved now$/,
      ),
    });
    expect(published(detailTypes.incidentEscalated)).toHaveLength(1);
    expect(published(detailTypes.planApproved)).toEqual([]);
    expect(
      await decideApproval({ incidentId: randomUUID(), decision: 'approve', decidedBy: arn }, deps),
    ).toMatchObject({ outcome: 'refused', reason: expect.stringContaining('has no approval request') });
  });

  it('the sweep expires a request nobody decided: step expired, incident escalated, lease released, audited, notified', async () => {
    await fresh();
    const r = await awaiting();
    now = at(10);
    const later = await awaiting(); // expires at 40 minutes
    now = at(29);
    expect(await expireApprovals(deps, now)).toEqual([]);

    // Past the expiry, before the sweep: decisions are refused as expired.
    now = at(31);
    expect(await decideApproval({ token: r.approve, decision: 'approve' }, deps)).toMatchObject({
      outcome: 'refused',
      reason: `the approval request for step 1 (scale_out) expired at ${at(30).toISOString()}: nobody decided in time`,
    });
    expect(await state(r.incidentId)).toBe('awaiting_approval');

    expect(await expireApprovals(deps, now)).toEqual([
      {
        incidentId: r.incidentId,
        step: 1,
        action: 'scale_out',
        released: ['step', 'incident', 'lease'],
        published: true,
      },
    ]);
    expect(await row(r.nonce)).toMatchObject({
      decision: 'expired',
      decided_by: null,
      decided_via: 'expiry',
    });
    expect(await stepStatus(r.incidentId)).toBe('expired');
    expect(await state(r.incidentId)).toBe('escalated');
    expect(await lease(r.service)).toBeNull();
    expect((await audit(r.incidentId)).map((a) => `${a.actor} ${a.action} ${a.result}`)).toEqual([
      'homeostat.approve approval.expired expired',
    ]);
    const escalated = published(detailTypes.incidentEscalated);
    expect(escalated.map((e) => e.data)).toEqual([
      {
        incidentId: r.incidentId,
        service: { cluster: 'shop', service: r.service },
        reason: `approval expired: nobody approved or rejected scale_out (step 1) by ${at(30).toISOString()}`,
      },
    ]);
    expect(escalated[0]?.source).toBe('homeostat.approve');
    // The other request is untouched.
    expect(await row(later.nonce)).toMatchObject({ decision: null });
    expect(await lease(later.service)).toBe(later.incidentId);

    // A second sweep finds nothing; decisions after the sweep are refused as expired, by either door.
    expect(await expireApprovals(deps, at(32))).toEqual([]);
    expect(published(detailTypes.incidentEscalated)).toHaveLength(1);
    for (const request of [
      { token: r.reject, decision: 'reject' as const },
      { incidentId: r.incidentId, decision: 'approve' as const, decidedBy: arn },
    ])
      expect(await decideApproval(request, deps)).toMatchObject({
        outcome: 'refused',
        reason: expect.stringContaining('expired'),
      });
  });

  it('expires a request whose incident moved on without touching the incident', async () => {
    await fresh();
    const r = await awaiting();
    await database.pool.query("UPDATE incidents SET state = 'self_resolved' WHERE id = $1", [r.incidentId]);
    now = at(31);
    expect(await expireApprovals(deps, now)).toEqual([
      { incidentId: r.incidentId, step: 1, action: 'scale_out', released: ['step'], published: true },
    ]);
    expect(await state(r.incidentId)).toBe('self_resolved');
    expect(await stepStatus(r.incidentId)).toBe('expired');
    expect(bus.published).toEqual([]);
  });

  it('a bus that fails leaves the expiry stored and its event in the outbox for the relay; the batch goes on', async () => {
    await fresh();
    const [a, b] = [await awaiting(), await awaiting()];
    now = at(31);
    const failing: EventPublisher = {
      publish: async () => {
        throw new Error('bus unavailable');
      },
    };
    const swept = await expireApprovals({ store, bus: failing }, now);
    expect(swept.map((x) => [x.incidentId, x.published]).sort()).toEqual(
      [
        [a.incidentId, false],
        [b.incidentId, false],
      ].sort(),
    );
    expect([await state(a.incidentId), await state(b.incidentId)]).toEqual(['escalated', 'escalated']);
    const pending = await query(
      `SELECT envelope->>'type' AS type FROM outbox WHERE causation_id = ANY($1) AND published_at IS NULL`,
      [[`approval-expired:${a.nonce}`, `approval-expired:${b.nonce}`]],
    );
    expect(pending.map((p) => p.type)).toEqual([
      detailTypes.incidentEscalated,
      detailTypes.incidentEscalated,
    ]);
    expect(await expireApprovals(deps, at(32))).toEqual([]);
  });

  it('a decision in the last millisecond counts; the sweep then has nothing to expire', async () => {
    await fresh();
    const r = await awaiting();
    now = new Date(at(30).getTime() - 1);
    const [decided, swept] = await Promise.all([
      decideApproval({ incidentId: r.incidentId, decision: 'approve', decidedBy: arn }, deps),
      expireApprovals(deps, now),
    ]);
    expect(decided).toMatchObject({ outcome: 'approved' });
    expect(swept).toEqual([]);
    expect(await expireApprovals(deps, at(31))).toEqual([]);
    expect(await row(r.nonce)).toMatchObject({ decision: 'approved' });
  });
});
