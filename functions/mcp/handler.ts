import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { LambdaFunctionURLEventWithIAMAuthorizer, LambdaFunctionURLResult } from 'aws-lambda';
import * as z from 'zod/mini';
import { lazy, lazyAsync } from '#shared/adapters/aws-clients.ts';
import { envWithDatabase, loadEnv } from '#shared/config/env.ts';
import { awsMcpDeps } from '#shared/mcp/aws-deps.ts';
import { handleMcpHttp } from '#shared/mcp/http.ts';
import type { HomeostatMcpDeps } from '#shared/mcp/server.ts';
import { createLogger } from '#shared/observability/logger.ts';

/**
 * The MCP server behind an IAM-authorised Function URL (Streamable HTTP,
 * stateless). The caller is the IAM principal that signed the request
 * (`requestContext.authorizer.iam`); it is recorded as the requester of a
 * remediation and of a kill switch turned on. The function acts with its own
 * role, so what IAM must grant a person — deciding an approval, turning the
 * kill switch off — is not offered here: people do that as themselves (CLI,
 * or `npx homeostat mcp`).
 */
const logger = createLogger('homeostat-mcp');

/** A Function URL event as a web Request (the transport speaks Fetch). */
export function toRequest(event: LambdaFunctionURLEventWithIAMAuthorizer): Request {
  const method = event.requestContext.http.method.toUpperCase();
  const query = event.rawQueryString ? `?${event.rawQueryString}` : '';
  const headers = new Headers();
  for (const [name, value] of Object.entries(event.headers ?? {}))
    if (value !== undefined) headers.set(name, value);
  const body =
    event.body === undefined || method === 'GET' || method === 'HEAD'
      ? undefined
      : event.isBase64Encoded
        ? Buffer.from(event.body, 'base64')
        : event.body;
  return new Request(`https://${event.requestContext.domainName}${event.rawPath}${query}`, {
    method,
    headers,
    ...(body === undefined ? {} : { body }),
  });
}

export function createHandler(deps: () => Promise<HomeostatMcpDeps>) {
  return middy<LambdaFunctionURLEventWithIAMAuthorizer, LambdaFunctionURLResult>()
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .handler(async (event) => {
      const caller = event.requestContext.authorizer?.iam?.userArn;
      if (!caller)
        return {
          statusCode: 403,
          headers: { 'content-type': 'text/plain' },
          body: 'IAM authorisation required',
        };
      const base = await deps();
      const response = await handleMcpHttp(toRequest(event), { ...base, principal: async () => caller });
      logger.info('mcp request', { caller, status: response.status });
      return {
        statusCode: response.status,
        headers: Object.fromEntries(response.headers),
        body: await response.text(),
      };
    });
}

const envSchema = envWithDatabase({
  HOMEOSTAT_KILL_SWITCH_PARAMETER: z.string().check(z.minLength(1)),
  HOMEOSTAT_REMEDIATION: z._default(z.string(), ''),
});

const productionDeps = lazy(() => {
  loadEnv(envSchema);
  return lazyAsync(async () => (await awsMcpDeps({ mode: 'http', stack: '' })).deps);
});

export const handler = createHandler(() => productionDeps()());
