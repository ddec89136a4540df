/**
 * `homeostat approve|reject <incident>`: a person decides the incident's open
 * approval request. The CLI invokes the stack's approval function directly —
 * IAM decides who may — and the function checks the request is open,
 * unexpired and unchanged before anything acts.
 */
import { parseArgs } from 'node:util';

export const approvalUsage = `  approve <incident-id> [--by NAME] [--json]   approve the incident's open approval request
  reject <incident-id> [--by NAME] [--json]    reject it (the incident is escalated)
      --stack NAME (default Homeostat) or --function NAME picks the approval function;
      --by defaults to your user name
`;

export interface ApprovalDeps {
  /** The approval function's name: given, or the stack's ApproveFunctionName output. */
  functionName(options: { stack: string; fn: string | undefined }): Promise<string>;
  invoke(functionName: string, payload: object): Promise<unknown>;
  user: string;
}

export interface CommandOutput {
  stdout: string;
  stderr: string;
  exitCode: number;
}

export async function approvalCommand(
  decision: 'approve' | 'reject',
  args: string[],
  deps: ApprovalDeps,
): Promise<CommandOutput> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(args);
  } catch (error) {
    return { stdout: '', stderr: `${(error as Error).message}\n\n${approvalUsage}`, exitCode: 2 };
  }
  const { values, positionals } = parsed;
  const incidentId = positionals[0];
  if (!incidentId || positionals.length > 1)
    return {
      stdout: '',
      stderr: `${decision} needs exactly one incident id\n\n${approvalUsage}`,
      exitCode: 2,
    };
  let functionName: string;
  try {
    functionName = await deps.functionName({ stack: values.stack, fn: values.function });
  } catch (error) {
    return { stdout: '', stderr: `${(error as Error).message}\n`, exitCode: 1 };
  }
  const result = (await deps.invoke(functionName, {
    incidentId,
    decision,
    decidedBy: values.by ?? deps.user,
  })) as { outcome?: string; reason?: string; action?: string; step?: number } | null;
  const json = `${JSON.stringify(result)}\n`;
  if (result?.outcome === 'approved' || result?.outcome === 'rejected')
    return {
      stdout: values.json
        ? json
        : `${result.outcome}: ${result.action} (step ${result.step}) on incident ${incidentId}\n`,
      stderr: '',
      exitCode: 0,
    };
  return {
    stdout: values.json ? json : '',
    stderr: `not ${decision === 'approve' ? 'approved' : 'rejected'}: ${result?.reason ?? JSON.stringify(result)}\n`,
    exitCode: 1,
  };
}

function parse(args: string[]) {
  return parseArgs({
    args,
    allowPositionals: true,
    options: {
      by: { type: 'string' },
      stack: { type: 'string', default: 'Homeostat' },
      function: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
}

/** The real dependencies: CloudFormation for the stack's outputs, Lambda to invoke. */
export async function awsApprovalDeps(): Promise<ApprovalDeps> {
  const [{ userInfo }, { stackOutput, invokeJson }] = await Promise.all([
    import('node:os'),
    import('./stack.ts'),
  ]);
  return {
    user: process.env.USER ?? userInfo().username,
    async functionName({ stack, fn }) {
      return fn ?? stackOutput(stack, 'ApproveFunctionName');
    },
    invoke: (functionName, payload) => invokeJson(functionName, payload, 'approval function') as never,
  };
}
