import { ECSClient } from '@aws-sdk/client-ecs';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import type { LambdaFunctionURLEventWithIAMAuthorizer, LambdaFunctionURLResult } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresPerceptionStore } from '#shared/adapters/perception-store.ts';
import { seedIncident } from '#shared/testing/incidents.ts';
import { lambdaContext } from '#shared/testing/logging.ts';
import {
  createEcsService,
  emulatorClientConfig,
  emulatorEndpoint,
  startMigratedDatabase,
  type TestDatabase,
  uniqueName,
} from '../../localstack/testing.ts';
import { handler } from './handler.ts';

const caller = 'arn:aws:sts::123456789012:assumed-role/Oncall/ana';
const domain = 'abcdefghij.lambda-url.us-east-1.on.aws';

/** What the Function URL hands the function for one HTTP request, signed by `principal` (null: unsigned). */
async function invoke(request: Request, principal: string | null): Promise<Response> {
  const url = new URL(request.url);
  const body = await request.text();
  const event = {
    version: '2.0',
    routeKey: '$default',
    rawPath: url.pathname,
    rawQueryString: url.search.replace(/^\?/, ''),
    headers: Object.fromEntries(request.headers),
    requestContext: {
      accountId: '123456789012',
      apiId: 'abcdefghij',
      domainName: domain,
      domainPrefix: 'abcdefghij',
      http: {
        method: request.method,
        path: url.pathname,
        protocol: 'HTTP/1.1',
        sourceIp: '127.0.0.1',
        userAgent: 'test',
      },
      requestId: 'r-1',
      routeKey: '$default',
      stage: '$default',
      time: new Date().toUTCString(),
      timeEpoch: Date.now(),
      authorizer: principal
        ? {
            iam: {
              accessKey: 'ASIATEST',
              accountId: '123456789012',
              callerId: 'AROATEST:ana',
              cognitoIdentity: null,
              principalOrgId: null,
              userArn: principal,
              userId: 'AROATEST:ana',
            },
          }
        : undefined,
    },
    ...(body ? { body, isBase64Encoded: false } : { isBase64Encoded: false }),
  } as unknown as LambdaFunctionURLEventWithIAMAuthorizer;
  const result = (await handler(event, lambdaContext('homeostat-mcp'))) as Exclude<
    LambdaFunctionURLResult,
    string
  >;
  return new Response(result.statusCode === 202 || !result.body ? null : result.body, {
    status: result.statusCode ?? 200,
    headers: result.headers as Record<string, string>,
  });
}

/**
 * The HTTP mode through the Lambda handler with its production wiring: the
 * SDK's Streamable HTTP client whose fetch is the Function URL (IAM-signed by
 * `caller`), on PGlite and the emulator.
 */
describe('homeostat mcp over Streamable HTTP (the Lambda handler)', () => {
  let database: TestDatabase;
  let client: Client;
  let incidentId: string;
  const cluster = uniqueName('mcp-http');
  const saved = { ...process.env };

  beforeAll(async () => {
    database = await startMigratedDatabase();
    await createEcsService(new ECSClient(emulatorClientConfig()), cluster, 'api', 2);
    await new PostgresPerceptionStore(database.pool, {}, 0).registerService({
      cluster,
      service: 'api',
      alarmPrefixes: [],
      allowedActions: [],
      minTasks: 1,
      maxTasks: 6,
      autonomy: { default: 'auto' },
    });
    incidentId = await seedIncident(database.pool, {
      cluster,
      service: 'api',
      state: 'diagnosing',
      openedAt: new Date(Date.now() - 60_000),
      rootCause: 'cpu_saturation',
    });
    // What the construct sets on the function.
    Object.assign(process.env, {
      AWS_ENDPOINT_URL: emulatorEndpoint(),
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      DATABASE_URL: database.db.url,
      DATABASE_WS_PROXY: database.db.wsProxy ?? '',
      HOMEOSTAT_KILL_SWITCH_PARAMETER: `/homeostat-test/${cluster}/kill-switch`,
    });
    client = new Client({ name: 'homeostat-http-test', version: '1.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`https://${domain}/`), {
        fetch: (url, init) => invoke(new Request(url, init), caller),
      }),
    );
  });

  afterAll(async () => {
    await client?.close();
    await database?.stop();
    process.env = saved;
  });

  const call = async (name: string, args: Record<string, unknown>) =>
    (await client.callTool({ name, arguments: args })) as CallToolResult;
  const text = (r: CallToolResult) => r.content.map((c) => (c.type === 'text' ? c.text : '')).join('');

  it('serves the tools, records the IAM caller, and keeps what a person must do as themselves off the Lambda', async () => {
    const { tools } = await client.listTools();
    const names = tools.map((t) => t.name);
    expect(names).toEqual(expect.arrayContaining(['get_incident', 'request_remediation', 'kill_switch']));
    // Deciding takes the person's own IAM identity: not through a function acting with its own role.
    expect(names).not.toContain('approve');
    expect(names).not.toContain('reject');

    const shown = await call('get_incident', { incidentId });
    expect(shown.isError).toBeFalsy();
    expect(shown.structuredContent).toMatchObject({
      incident: { id: incidentId, state: 'diagnosing', title: { untrusted: true } },
      diagnosis: { rootCause: 'cpu_saturation' },
    });

    // auto autonomy still only asks: the request waits for a person, filed as the Function URL's caller.
    const requested = await call('request_remediation', {
      incidentId,
      action: 'scale_out',
      parameters: { desiredCount: 4 },
    });
    expect(requested.isError, text(requested)).toBeFalsy();
    // The bus lets only the agents publish: approval.requested waits in the outbox for the relay.
    expect(requested.structuredContent).toMatchObject({
      outcome: 'awaiting_approval',
      step: 1,
      published: false,
    });
    const outbox = await database.pool.query(
      `SELECT envelope ->> 'type' AS type, envelope ->> 'source' AS source, published_at FROM outbox`,
    );
    expect(outbox.rows).toEqual([
      { type: 'approval.requested', source: 'homeostat.plan', published_at: null },
    ]);
    const step = await database.pool.query(
      'SELECT status, detail FROM remediation_steps WHERE incident_id = $1',
      [incidentId],
    );
    expect(step.rows).toEqual([
      { status: 'awaiting_approval', detail: { source: 'mcp', requestedBy: caller } },
    ]);

    expect((await call('kill_switch', { state: 'on' })).structuredContent).toMatchObject({ engaged: true });
    const off = await call('kill_switch', { state: 'off' });
    expect(off.isError).toBe(true);
    expect(text(off)).toContain('needs your own credentials');
    expect((await call('kill_switch', { state: 'status' })).structuredContent).toMatchObject({
      engaged: true,
    });
    const audit = await database.pool.query(
      `SELECT actor, result FROM audit_log WHERE action = 'kill_switch.set'`,
    );
    expect(audit.rows).toEqual([{ actor: `mcp:${caller}`, result: 'engaged' }]);

    // Unsigned requests never reach the server; a GET event stream is not offered.
    const unsigned = await invoke(
      new Request(`https://${domain}/`, {
        method: 'POST',
        body: '{}',
        headers: { 'content-type': 'application/json' },
      }),
      null,
    );
    expect(unsigned.status).toBe(403);
    expect((await invoke(new Request(`https://${domain}/`), caller)).status).toBe(405);
  });
});
