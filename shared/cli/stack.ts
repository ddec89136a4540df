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
