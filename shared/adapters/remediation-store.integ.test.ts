import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMigratedDatabase, type TestDatabase } from '../../localstack/testing.ts';
import { idempotencyKey, PostgresRemediationStore } from './remediation-store.ts';

/** The remediation store on PGlite through the Neon driver. */
describe('remediation store', () => {
  let database: TestDatabase;
  let store: PostgresRemediationStore;
  const t0 = new Date('2026-11-20T10:00:00Z');
  const at = (minutes: number) => new Date(t0.getTime() + minutes * 60_000);

  beforeAll(async () => {
    database = await startMigratedDatabase();
    store = new PostgresRemediationStore(database.pool);
  });
  afterAll(async () => database?.stop());

  /** An incident row on `service` (terminal ones may share a service with a live one). */
  async function incident(service: string, state = 'diagnosing') {
    const id = randomUUID();
    await database.pool.query(
      `INSERT INTO incidents (id, cluster, service, state, title, fingerprint, opened_at, updated_at, last_signal_at)
       VALUES ($1, 'shop', $2, $3, 't', 'fp-' || $2, $4, $4, $4)`,
      [id, service, state, t0.toISOString()],
    );
    return id;
  }
  const step = (incidentId: string, service: string, n = 1, mode: 'auto' | 'observe' = 'auto') => ({
    incidentId,
    step: n,
    service: { cluster: 'shop', service },
    fingerprint: `fp-${service}`,
    action: 'scale_out' as const,
    parameters: { desiredCount: 5 },
    mode,
    status: 'planned' as const,
    policyVersion: 'policy-v1',
    snapshot: null,
  });

  it('lets exactly one of two racing incidents take a service’s lease; it lapses after its time', async () => {
    const ref = { cluster: 'shop', service: 'race' };
    const [a, b] = [await incident('race'), await incident('race', 'escalated')];
    const results = await Promise.all([
      store.acquireLease(ref, a, at(0), 10 * 60_000),
      store.acquireLease(ref, b, at(0), 10 * 60_000),
    ]);
    expect(results.filter((r) => r === null)).toHaveLength(1);
    const winner = results[0] === null ? a : b;
    const loser = winner === a ? b : a;
    expect(results).toContain(winner);
    // The holder renews; the other waits until it lapses, then takes it.
    expect(await store.acquireLease(ref, winner, at(5), 10 * 60_000)).toBeNull();
    expect(await store.acquireLease(ref, loser, at(14), 10 * 60_000)).toBe(winner);
    expect(await store.acquireLease(ref, loser, at(15), 10 * 60_000)).toBeNull();
    await store.releaseLease(ref, loser);
    expect(await store.acquireLease(ref, winner, at(16), 10 * 60_000)).toBeNull();
  });

  it('records a step once: a redelivery finds the first record', async () => {
    const id = await incident('once');
    const first = await store.recordStep(step(id, 'once'));
    const again = await store.recordStep({ ...step(id, 'once'), action: 'restart_service', parameters: {} });
    expect(first.created).toBe(true);
    expect(again).toEqual({ created: false, step: first.step });
    expect(first.step.idempotencyKey).toBe(idempotencyKey(id, 1));
  });

  it('moves a step only from the states given: the second of two deliveries loses', async () => {
    const id = await incident('move');
    const { step: s } = await store.recordStep(step(id, 'move'));
    const moves = await Promise.all([
      store.moveStep(s.idempotencyKey, ['planned'], 'executing'),
      store.moveStep(s.idempotencyKey, ['planned'], 'executing'),
    ]);
    expect(moves.sort()).toEqual([false, true]);
    const snapshot = {
      cluster: 'shop',
      service: 'move',
      desiredCount: 3,
      taskDefinition: 'arn:td/move:1',
      deploymentConfiguration: null,
      parameters: {},
    };
    expect(
      await store.moveStep(s.idempotencyKey, ['executing'], 'executed', {
        snapshot,
        executedAt: at(1),
        verifyAt: at(4),
      }),
    ).toBe(true);
    expect(await store.step(s.idempotencyKey)).toMatchObject({
      status: 'executed',
      snapshot,
      executedAt: at(1),
      verifyAt: at(4),
    });
  });

  it('feeds the rate limit with executed actions only, and the breaker with ineffective ones', async () => {
    const [a, b] = [await incident('rate', 'failed'), await incident('rate')];
    const auto = (await store.recordStep(step(a, 'rate'))).step;
    const dry = (await store.recordStep(step(b, 'rate', 1, 'observe'))).step;
    await store.moveStep(auto.idempotencyKey, ['planned'], 'no_effect', { executedAt: at(2) });
    await store.moveStep(dry.idempotencyKey, ['planned'], 'dry_run', { executedAt: at(3) });
    const recent = await store.recentActions({ cluster: 'shop', service: 'rate' }, at(0));
    expect(recent).toEqual([{ action: 'scale_out', at: at(2) }]);
    expect(await store.ineffectiveCount('fp-rate', new Date(0))).toBe(1);
  });

  it('spends an approval once, and never after it expired', async () => {
    const id = await incident('approve');
    const hash = 'a'.repeat(64);
    await store.requestApproval({
      nonce: 'n-1',
      incidentId: id,
      step: 1,
      bindingHash: hash,
      expiresAt: at(30),
    });
    await store.requestApproval({
      nonce: 'n-2',
      incidentId: id,
      step: 2,
      bindingHash: hash,
      expiresAt: at(30),
    });
    expect(await store.decideApproval('n-1', 'approved', 'alice', at(5))).toBe(true);
    expect(await store.decideApproval('n-1', 'approved', 'mallory', at(6))).toBe(false);
    expect(await store.decideApproval('n-1', 'rejected', 'alice', at(6))).toBe(false);
    expect(await store.decideApproval('n-2', 'approved', 'alice', at(31))).toBe(false);
    expect(await store.decideApproval('n-unknown', 'approved', 'alice', at(1))).toBe(false);
  });

  it('knows the last revision that stayed steady long enough, other than the running one', async () => {
    const ref = { cluster: 'shop', service: 'steady' };
    await store.recordSteady(ref, 'td:1', at(0));
    await store.recordSteady(ref, 'td:1', at(60));
    await store.recordSteady(ref, 'td:2', at(61));
    await store.recordSteady(ref, 'td:2', at(65));
    await store.recordSteady(ref, 'td:3', at(70));
    expect(await store.lastKnownGood(ref, 'td:3', 30 * 60_000)).toBe('td:1');
    expect(await store.lastKnownGood(ref, 'td:3', 60_000)).toBe('td:2');
    expect(await store.lastKnownGood(ref, 'td:1', 30 * 60_000)).toBeNull();
  });
});
