/** The deployed stack, as the CLI finds it: its outputs through CloudFormation (usual AWS profile/region variables). */

/** One output of `stack`; a clear error when the stack or the output does not exist. */
export async function stackOutput(stack: string, key: string): Promise<string> {
  const { CloudFormationClient, DescribeStacksCommand } = await import('@aws-sdk/client-cloudformation');
  const cfn = new CloudFormationClient({});
  try {
    const out = await cfn.send(new DescribeStacksCommand({ StackName: stack }));
    const value = out.Stacks?.[0]?.Outputs?.find((o) => o.OutputKey === key)?.OutputValue;
    if (!value) throw new Error(`stack ${stack} has no ${key} output: deploy this version of Homeostat`);
    return value;
  } catch (error) {
    if ((error as Error).name === 'ValidationError')
      throw new Error(
        `stack ${stack} does not exist in this account and region (--stack NAME to pick another)`,
      );
    throw error;
  } finally {
    cfn.destroy();
  }
}

/** Invokes one of the stack's functions synchronously and returns its JSON answer; throws with its error. */
export async function invokeJson(functionName: string, payload: unknown, what: string): Promise<unknown> {
  const { InvokeCommand, LambdaClient } = await import('@aws-sdk/client-lambda');
  const lambda = new LambdaClient({});
  try {
    const out = await lambda.send(
      new InvokeCommand({ FunctionName: functionName, Payload: JSON.stringify(payload) }),
    );
    const text = Buffer.from(out.Payload ?? []).toString('utf8');
    if (out.FunctionError) throw new Error(`the ${what} failed: ${text}`);
    return JSON.parse(text);
  } finally {
    lambda.destroy();
  }
}
