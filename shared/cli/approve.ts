/**
 * `homeostat approve|reject <incident>`: a person decides the incident's open
 * approval request. The CLI invokes the stack's approval function directly —
 * IAM decides who may — naming the caller's IAM identity (STS
 * GetCallerIdentity) as the deciding principal, and the function checks the
 * request is open, unexpired and unchanged before anything acts. Deciding
 * again the same way answers as the first time; the other way is refused.
 */
import { parseArgs } from 'node:util';
import { explainConfigError, MissingConfigurationError, stackName } from './cli-config.ts';

export const approvalUsage = `  approve <incident-id> [--json]               approve the incident's open approval request
  reject <incident-id> [--json]                reject it (the incident is escalated)
      --stack NAME (default HOMEOSTAT_STACK, else Homeostat) or --function NAME picks the approval function;
      the decision is recorded as your IAM identity (the ARN STS reports for your credentials)
`;

export interface ApprovalDeps {
  /** The approval function's name: given, or the stack's ApproveFunctionName output. */
  functionName(options: { stack: string; fn: string | undefined }): Promise<string>;
  invoke(functionName: string, payload: object): Promise<unknown>;
  /** The caller's IAM identity: the ARN of STS GetCallerIdentity for the credentials in use. */
  principal(): Promise<string>;
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
  let principal: string;
  try {
    functionName = await deps.functionName({ stack: stackName(args), fn: values.function });
    principal = await deps.principal();
  } catch (error) {
    return { stdout: '', stderr: `${explainConfigError(error) ?? (error as Error).message}\n`, exitCode: 1 };
  }
  const result = (await deps.invoke(functionName, { incidentId, decision, decidedBy: principal })) as {
    outcome?: string;
    reason?: string;
    action?: string;
    step?: number;
    decidedBy?: string;
  } | null;
  const json = `${JSON.stringify(result)}\n`;
  if (result?.outcome === 'approved' || result?.outcome === 'rejected')
    return {
      stdout: values.json
        ? json
        : `${result.outcome}: ${result.action} (step ${result.step}) on incident ${incidentId} by ${result.decidedBy ?? principal}\n`,
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
      stack: { type: 'string' },
      function: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
  });
}

/** The caller's IAM identity, as STS reports it for the credentials in use (usual AWS profile/region variables). */
export async function callerArn(): Promise<string> {
  const { GetCallerIdentityCommand, STSClient } = await import('@aws-sdk/client-sts');
  const sts = new STSClient({});
  try {
    const { Arn } = await sts.send(new GetCallerIdentityCommand({}));
    if (!Arn) throw new Error('STS did not say who you are (GetCallerIdentity returned no ARN)');
    return Arn;
  } catch (error) {
    const missing = explainConfigError(error);
    if (missing) throw new MissingConfigurationError(missing, { cause: error });
    throw new Error(`cannot tell your IAM identity: ${(error as Error).message}`, { cause: error });
  } finally {
    sts.destroy();
  }
}

/** The real dependencies: CloudFormation for the stack's outputs, STS for who you are, Lambda to invoke. */
export async function awsApprovalDeps(): Promise<ApprovalDeps> {
  const [{ invokeJson }, { stackOutput }] = await Promise.all([
    import('./stack.ts'),
    import('./cli-config.ts'),
  ]);
  return {
    principal: callerArn,
    async functionName({ stack, fn }) {
      return fn ?? stackOutput(stack, 'ApproveFunctionName');
    },
    invoke: (functionName, payload) => invokeJson(functionName, payload, 'approval function') as never,
  };
}
