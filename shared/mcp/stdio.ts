/**
 * `npx homeostat mcp [--stack NAME]`: the MCP server on stdio, for an assistant
 * running as you (Claude Code, Amazon Q Developer, …). It uses your AWS
 * credentials and the database the operator CLI uses; JSON-RPC on stdout,
 * nothing else is ever written there. It ends when the client closes stdin.
 */
import { awsRegion, stackName } from '../cli/cli-config.ts';

export const mcpUsage = `  mcp [--stack NAME]                 an MCP server on stdio for assistants: investigate incidents, search
                                     knowledge, request remediations a person approves (README "Homeostat over MCP")
`;

export async function serveStdio(args: string[]): Promise<number> {
  const stack = stackName(args);
  const unknown = args.filter((a, n) => a !== '--stack' && args[n - 1] !== '--stack');
  if (unknown.length > 0) {
    process.stderr.write(`mcp takes only --stack NAME, got ${unknown.join(' ')}\n\nusage:\n${mcpUsage}`);
    return 2;
  }
  // Every tool needs AWS (SSM, ECS, the stack): say now what to set, not at the first tool call.
  await awsRegion();
  // Loaded here: every other CLI command imports this file for its usage line only.
  const [{ StdioServerTransport }, { awsMcpDeps }, { createHomeostatMcpServer }] = await Promise.all([
    import('@modelcontextprotocol/sdk/server/stdio.js'),
    import('./aws-deps.ts'),
    import('./server.ts'),
  ]);
  const { deps, close } = await awsMcpDeps({ mode: 'stdio', stack });
  const server = createHomeostatMcpServer(deps);
  const ended = new Promise<void>((resolve) => {
    process.stdin.once('end', resolve);
    process.stdin.once('close', resolve);
    server.server.onclose = resolve;
  });
  await server.connect(new StdioServerTransport());
  await ended;
  await server.close();
  await close();
  return 0;
}
