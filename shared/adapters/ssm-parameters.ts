import {
  DeleteParameterCommand,
  GetParameterCommand,
  ParameterNotFound,
  PutParameterCommand,
  type SSMClient,
} from '@aws-sdk/client-ssm';

/** A String parameter's value; null when it does not exist. */
export async function readParameter(ssm: SSMClient, name: string): Promise<string | null> {
  try {
    return (await ssm.send(new GetParameterCommand({ Name: name }))).Parameter?.Value ?? null;
  } catch (error) {
    if (error instanceof ParameterNotFound) return null;
    throw error;
  }
}

/** Sets a String parameter, or deletes it for null (already gone is fine): the inverse of readParameter. */
export async function writeParameter(ssm: SSMClient, name: string, value: string | null): Promise<void> {
  if (value !== null) {
    await ssm.send(new PutParameterCommand({ Name: name, Value: value, Type: 'String', Overwrite: true }));
    return;
  }
  await ssm.send(new DeleteParameterCommand({ Name: name })).catch((error) => {
    if (!(error instanceof ParameterNotFound)) throw error;
  });
}
