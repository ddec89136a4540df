/**
 * A local fake of the Lambda Invoke API (REST-JSON over HTTP/1.1) with a
 * one-rule IAM: callers whose SigV4 access key is in `deny` get
 * AccessDeniedException, as IAM answers a principal without
 * lambda:InvokeFunction. The emulator enforces no IAM, so tests of "who may
 * invoke" point the SDK here with AWS_ENDPOINT_URL_LAMBDA; permitted calls run
 * the named handler in-process (the real one, on the test's database).
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeLambdaCall {
  functionName: string;
  accessKeyId: string | null;
  payload: unknown;
  denied: boolean;
}

export interface FakeLambda {
  endpoint: string;
  calls: FakeLambdaCall[];
  stop(): Promise<void>;
}

const readBody = async (req: IncomingMessage) => {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
};

export async function startFakeLambda(options: {
  functions: Record<string, (payload: unknown) => Promise<unknown>>;
  /** Access key ids IAM refuses lambda:InvokeFunction to. */
  deny: readonly string[];
}): Promise<FakeLambda> {
  const calls: FakeLambdaCall[] = [];
  const send = (res: ServerResponse, status: number, body: unknown, error?: string) => {
    res.writeHead(status, {
      'content-type': 'application/json',
      ...(error ? { 'x-amzn-errortype': error } : { 'x-amz-executed-version': '$LATEST' }),
    });
    res.end(JSON.stringify(body));
  };
  const server = createServer(async (req, res) => {
    const text = await readBody(req);
    const match = /^\/2015-03-31\/functions\/([^/]+)\/invocations/.exec(req.url ?? '');
    const functionName = decodeURIComponent(match?.[1] ?? '');
    const accessKeyId = /Credential=([^/]+)\//.exec(req.headers.authorization ?? '')?.[1] ?? null;
    const payload = text ? (JSON.parse(text) as unknown) : null;
    const denied = accessKeyId === null || options.deny.includes(accessKeyId);
    calls.push({ functionName, accessKeyId, payload, denied });
    if (!match) return send(res, 404, { message: `no route ${req.url}` }, 'UnknownOperationException');
    if (denied)
      return send(
        res,
        403,
        {
          Type: 'User',
          message: `User: ${accessKeyId} is not authorized to perform: lambda:InvokeFunction on resource: ${functionName} because no identity-based policy allows the lambda:InvokeFunction action`,
        },
        'AccessDeniedException',
      );
    const fn = options.functions[functionName];
    if (!fn)
      return send(
        res,
        404,
        { Type: 'User', message: `Function not found: ${functionName}` },
        'ResourceNotFoundException',
      );
    try {
      send(res, 200, await fn(payload));
    } catch (error) {
      res.writeHead(200, { 'content-type': 'application/json', 'x-amz-function-error': 'Unhandled' });
      res.end(JSON.stringify({ errorType: (error as Error).name, errorMessage: (error as Error).message }));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    calls,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
