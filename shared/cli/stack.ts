/** Invoking the deployed stack's functions (their names: cli-config.ts stackOutput). */

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
