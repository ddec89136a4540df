import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import middy from '@middy/core';
import * as z from 'zod/mini';
import { approvalSecret } from '#shared/adapters/approval-secret.ts';
import { clientDefaults, lazy, lazyAsync } from '#shared/adapters/aws-clients.ts';
import { createEventBridgeClient, EventBridgePublisher } from '#shared/adapters/event-bus.ts';
import { knowledgeDbConnector } from '#shared/adapters/knowledge-db.ts';
import { PostgresRemediationStore } from '#shared/adapters/remediation-store.ts';
import { envWithDatabase, loadEnv } from '#shared/config/env.ts';
import { systemClock } from '#shared/domain/ports.ts';
import { createLogger } from '#shared/observability/logger.ts';
import {
  type ApproveDeps,
  type DecisionResult,
  decideApproval,
  findRequest,
} from '#shared/usecases/approve.ts';

/**
 * Approvals, for humans only. Two doors:
 * - the Function URL from approval links: GET shows what is asked and a
 *   button; the POST it sends decides (a link preview or a mail scanner
 *   fetching the link decides nothing). The signed token is the credential,
 *   one per decision (the reject link cannot approve); the principal
 *   recorded is "link holder" (a name typed in the form is kept as a note).
 * - a direct invocation `{incidentId, decision, decidedBy}` from
 *   `homeostat approve|reject`, `decidedBy` being the caller's IAM identity
 *   (STS GetCallerIdentity): IAM decides who may invoke; no agent's role can.
 */
const logger = createLogger('homeostat-approve');

interface UrlEvent {
  requestContext: { http: { method: string; sourceIp?: string } };
  queryStringParameters?: Record<string, string | undefined>;
  body?: string;
  isBase64Encoded?: boolean;
}
interface UrlResponse {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
}

const cliRequest = z.object({
  incidentId: z.string().check(z.minLength(1)),
  decision: z.enum(['approve', 'reject']),
  decidedBy: z.string().check(z.minLength(1), z.maxLength(200)),
});

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const page = (statusCode: number, title: string, body: string): UrlResponse => ({
  statusCode,
  headers: {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
    'referrer-policy': 'no-referrer',
  },
  body: `<!doctype html><html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<style>body{font:16px system-ui;max-width:40rem;margin:3rem auto}pre{background:#f4f4f4;padding:1rem}</style></head>
<body><h1>${escapeHtml(title)}</h1>${body}</body></html>`,
});

async function handleUrl(event: UrlEvent, deps: ApproveDeps): Promise<UrlResponse> {
  const method = event.requestContext.http.method.toUpperCase();
  const raw = event.body
    ? event.isBase64Encoded
      ? Buffer.from(event.body, 'base64').toString('utf8')
      : event.body
    : '';
  const form =
    method === 'POST' ? Object.fromEntries(new URLSearchParams(raw)) : (event.queryStringParameters ?? {});
  const token = form.token ?? '';
  const decision = form.decision === 'reject' ? 'reject' : form.decision === 'approve' ? 'approve' : null;
  if (!token || !decision)
    return page(400, 'Not an approval link', '<p>The link is missing its token or decision.</p>');
  if (method === 'GET') {
    const found = await findRequest({ token, decision }, deps);
    if (found.status === 'refused')
      return page(410, 'This approval cannot be used', `<p>${escapeHtml(found.result.reason)}.</p>`);
    if (found.status === 'decided') return decided(found.result);
    const { step, approval } = found;
    return page(
      200,
      `${decision === 'approve' ? 'Approve' : 'Reject'} ${step.action}?`,
      `<p>Incident <code>${escapeHtml(step.incidentId)}</code> on <code>${escapeHtml(`${step.service.cluster}/${step.service.service}`)}</code>, step ${step.step}.</p>
<pre>${escapeHtml(JSON.stringify(step.parameters, null, 2))}</pre>
<p>Valid until ${escapeHtml(approval.expiresAt.toISOString())}.</p>
<form method="post"><input type="hidden" name="token" value="${escapeHtml(token)}"><input type="hidden" name="decision" value="${decision}">
<p>This link can only ${decision}. It is recorded as decided by the link holder.</p>
<label>Your name (a note, not verified) <input name="by" maxlength="200"></label> <button type="submit">${decision === 'approve' ? 'Approve' : 'Reject'}</button></form>`,
    );
  }
  if (method !== 'POST') return page(405, 'Method not allowed', '<p>Use the link, then the button.</p>');
  const name = (form.by ?? '').trim().slice(0, 200);
  const note = { name, sourceIp: event.requestContext.http.sourceIp ?? '' };
  const result = await decideApproval({ token, decision, note }, deps);
  logger.info('approval decided through a link', { result });
  return result.outcome === 'refused'
    ? page(409, 'Not done', `<p>${escapeHtml(result.reason)}.</p>`)
    : decided(result);
}

const decided = (result: Exclude<DecisionResult, { outcome: 'refused' }>) =>
  page(
    200,
    result.outcome === 'approved' ? 'Approved' : 'Rejected',
    `<p>${escapeHtml(result.action)} on step ${result.step} was ${result.outcome} by ${escapeHtml(result.decidedBy)} at ${escapeHtml(result.decidedAt)}. You can close this page.</p>`,
  );

export type ApproveHandlerResult = UrlResponse | DecisionResult | { outcome: 'invalid'; reason: string };

export function createHandler(deps: () => Promise<ApproveDeps>) {
  return middy<unknown, ApproveHandlerResult>()
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .handler(async (event) => {
      const resolved = await deps();
      if ((event as UrlEvent | null)?.requestContext?.http) return handleUrl(event as UrlEvent, resolved);
      const parsed = cliRequest.safeParse(event);
      if (!parsed.success)
        return { outcome: 'invalid', reason: 'expected {incidentId, decision, decidedBy}' };
      const result = await decideApproval(parsed.data, resolved);
      logger.info('approval decided through the CLI', { result });
      return result;
    });
}

const envSchema = envWithDatabase({
  HOMEOSTAT_BUS_NAME: z.string().check(z.minLength(1)),
  HOMEOSTAT_APPROVAL_SECRET_ARN: z.string().check(z.minLength(1)),
});

const productionDeps = lazy(() => {
  const env = loadEnv(envSchema);
  const db = knowledgeDbConnector(env);
  const secrets = new SecretsManagerClient(clientDefaults);
  const secret = approvalSecret(env.HOMEOSTAT_APPROVAL_SECRET_ARN, () => secrets);
  const bus = new EventBridgePublisher(createEventBridgeClient(), env.HOMEOSTAT_BUS_NAME);
  return lazyAsync(
    async (): Promise<ApproveDeps> => ({
      store: new PostgresRemediationStore(await db()),
      secret,
      bus,
      clock: systemClock,
    }),
  );
});

export const handler = createHandler(() => productionDeps()());
