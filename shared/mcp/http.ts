/**
 * The MCP server over Streamable HTTP, stateless: every request gets a fresh
 * server and transport (no session to keep between Lambda invocations) and
 * the answer as one JSON body, which a buffered Lambda response can carry. A
 * GET (the optional server-to-client event stream) and a DELETE (closing a
 * session) have nothing to serve here: 405, as the specification allows.
 */
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import { createHomeostatMcpServer, type HomeostatMcpDeps } from './server.ts';

export async function handleMcpHttp(request: Request, deps: HomeostatMcpDeps): Promise<Response> {
  if (request.method !== 'POST')
    return new Response(
      JSON.stringify({
        jsonrpc: '2.0',
        error: {
          code: -32000,
          message: 'Method not allowed: this server is stateless; POST JSON-RPC messages',
        },
        id: null,
      }),
      { status: 405, headers: { allow: 'POST', 'content-type': 'application/json' } },
    );
  const server = createHomeostatMcpServer(deps);
  const transport = new WebStandardStreamableHTTPServerTransport({
    sessionIdGenerator: undefined,
    enableJsonResponse: true,
  });
  await server.connect(transport);
  try {
    const response = await transport.handleRequest(request);
    // Read the whole answer before the server closes.
    const body = await response.text();
    return new Response(body || null, { status: response.status, headers: response.headers });
  } finally {
    await server.close();
  }
}
