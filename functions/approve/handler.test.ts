import { describe, expect, it } from 'vitest';
import { issueDecisionTokens } from '#shared/domain/approval.ts';
import { policyVersion } from '#shared/domain/policy.ts';
import { FakeBus, fixedClock } from '#shared/testing/fakes.ts';
import { lambdaContext } from '#shared/testing/logging.ts';
import type { ApproveDeps } from '#shared/usecases/approve.ts';
import type {
  ApprovalRequest,
  RemediationChange,
  RemediationStep,
  RemediationStore,
} from '#shared/usecases/remediation-ports.ts';
import { createHandler } from './handler.ts';

const secret = 'an-approval-signing-key-of-at-least-32-bytes';
const now = new Date('2026-11-20T10:00:00Z');
const incidentId = '11111111-1111-4111-8111-111111111111';
const context = lambdaContext('approve');

/** One incident awaiting approval of step 1, in memory: what the handler reads and what it commits. */
function setup() {
  const parameters = { desiredCount: 5 };
  const issued = issueDecisionTokens(
    { incidentId, action: 'scale_out', parameters, policyVersion },
    { secret, now, ttlMs: 30 * 60_000, nonce: 'n-1', step: 1 },
  );
  const approval: ApprovalRequest = {
    nonce: issued.nonce,
    incidentId,
    step: 1,
    bindingHash: issued.binding,
    expiresAt: new Date(issued.expiresAt),
    tokenHashes: issued.hashes,
    decision: null,
    decidedBy: null,
    decidedAt: null,
    decidedVia: null,
  };
  const step = {
    idempotencyKey: `${incidentId}:1`,
    incidentId,
    step: 1,
    service: { cluster: 'shop', service: 'api' },
    action: 'scale_out',
    parameters,
    policyVersion,
    status: 'awaiting_approval',
  } as unknown as RemediationStep;
  const commits: RemediationChange[] = [];
  const store = {
    approval: async (nonce: string) => (nonce === approval.nonce ? approval : null),
    latestApproval: async (id: string) => (id === incidentId ? approval : null),
    step: async (key: string) => (key === step.idempotencyKey ? step : null),
    async commit(change: RemediationChange) {
      commits.push(change);
      const spend = change.spendApproval;
      if (spend && spend.decision !== 'expired')
        Object.assign(approval, { decision: spend.decision, decidedBy: spend.decidedBy, decidedAt: now });
      return 'committed' as const;
    },
    pending: async () => [],
    markPublished: async () => {},
  } as unknown as RemediationStore;
  const deps: ApproveDeps = {
    store,
    secret: async () => secret,
    bus: new FakeBus(),
    clock: fixedClock(now.toISOString()),
  };
  const handler = createHandler(async () => deps);
  const url = (method: string, form: Record<string, string>) =>
    method === 'GET'
      ? { requestContext: { http: { method } }, queryStringParameters: form }
      : {
          requestContext: { http: { method, sourceIp: '203.0.113.9' } },
          body: new URLSearchParams(form).toString(),
        };
  return { handler, commits, tokens: issued.tokens, url };
}

describe('approve handler', () => {
  it('shows the reject link as a reject form, saying it can only reject', async () => {
    const { handler, tokens, url } = setup();
    const page = (await handler(url('GET', { token: tokens.reject, decision: 'reject' }), context)) as {
      statusCode: number;
      body: string;
    };
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('Reject scale_out?');
    expect(page.body).toContain('This link can only reject');
  });

  it('refuses the reject link with its decision edited to approve, on the page and on the button', async () => {
    const { handler, tokens, url, commits } = setup();
    const page = (await handler(url('GET', { token: tokens.reject, decision: 'approve' }), context)) as {
      statusCode: number;
      body: string;
    };
    expect(page.statusCode).toBe(410);
    expect(page.body).toContain('this link can only reject; it cannot approve');
    const post = (await handler(
      url('POST', { token: tokens.reject, decision: 'approve', by: 'Eve' }),
      context,
    )) as {
      statusCode: number;
    };
    expect(post.statusCode).toBe(409);
    expect(commits).toEqual([]);
  });

  it('records a link decision as "link holder", with the typed name and address only as a note', async () => {
    const { handler, tokens, url, commits } = setup();
    const post = (await handler(
      url('POST', { token: tokens.approve, decision: 'approve', by: 'Ana' }),
      context,
    )) as {
      statusCode: number;
      body: string;
    };
    expect(post.statusCode).toBe(200);
    expect(post.body).toContain('was approved by link holder');
    expect(commits[0]?.spendApproval).toEqual({
      nonce: 'n-1',
      decision: 'approved',
      decidedBy: 'link holder',
      via: 'link',
    });
    expect(commits[0]?.audit?.[0]).toMatchObject({
      actor: 'human:link holder',
      detail: { via: 'link', principal: 'link holder', name: 'Ana', sourceIp: '203.0.113.9' },
    });
    // The same button again: the same page, nothing committed.
    const again = (await handler(url('POST', { token: tokens.approve, decision: 'approve' }), context)) as {
      statusCode: number;
      body: string;
    };
    expect(again).toMatchObject({ statusCode: 200, body: post.body });
    expect(commits).toHaveLength(1);
  });

  it('records a CLI decision as the IAM identity the CLI names', async () => {
    const { handler, commits } = setup();
    const arn = 'arn:aws:sts::123456789012:assumed-role/Operator/ana';
    expect(await handler({ incidentId, decision: 'reject', decidedBy: arn }, context)).toMatchObject({
      outcome: 'rejected',
      decidedBy: arn,
    });
    expect(commits[0]?.spendApproval).toMatchObject({ decidedBy: arn, via: 'cli' });
    expect(await handler({ incidentId, decision: 'maybe' }, context)).toMatchObject({ outcome: 'invalid' });
  });
});
