/**
 * AWS Fault Injection Service, as chaos needs it: three REST-JSON operations,
 * signed with the SDK's own SigV4 signer and credential chain. There is no
 * `@aws-sdk/client-fis` on the SDK line the other clients use, and the older one
 * pulls a second SDK stack into production; three calls do not need a generated
 * client.
 */
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { Sha256 } from '@smithy/core/checksum';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity, Provider } from '@smithy/types';
import { DependencyUnavailableError, HomeostatError } from '../domain/errors.ts';
import { withRetry } from '../domain/retry.ts';

/** States in which a FIS experiment is still acting on its targets. */
const live = new Set(['pending', 'initiating', 'running']);

export interface FisClientOptions {
  /** @default AWS_REGION */
  region?: string;
  /** @default AWS_ENDPOINT_URL_FIS, AWS_ENDPOINT_URL, else https://fis.{region}.amazonaws.com */
  endpoint?: string;
  /** @default the SDK's default chain (in Lambda: the function's role, from its environment) */
  credentials?: AwsCredentialIdentity | Provider<AwsCredentialIdentity>;
  /** Total attempts on throttling, 5xx and connection failures. @default 5 */
  maxAttempts?: number;
  /** One request's time limit. @default 10 s */
  timeoutMs?: number;
}

/** An error FIS answered with (its `name` is FIS's error type, e.g. ResourceNotFoundException). */
export class FisError extends HomeostatError {
  constructor(
    override readonly name: string,
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

interface Experiment {
  id?: string;
  state?: { status?: string; reason?: string };
}

const retryableStatus = (status: number) => status === 429 || status >= 500;
const isRetryable = (error: unknown) =>
  error instanceof FisError
    ? retryableStatus(error.status) || /Throttl|TooManyRequests/.test(error.name)
    : !(error instanceof HomeostatError);

export class FisClient {
  private readonly signer: SignatureV4;
  private readonly endpoint: URL;
  private readonly maxAttempts: number;
  private readonly timeoutMs: number;

  constructor(options: FisClientOptions = {}) {
    const region = options.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION;
    if (!region) throw new HomeostatError('FIS needs a region: set AWS_REGION');
    const suffix = region.startsWith('cn-') ? 'amazonaws.com.cn' : 'amazonaws.com';
    this.endpoint = new URL(
      options.endpoint ??
        process.env.AWS_ENDPOINT_URL_FIS ??
        process.env.AWS_ENDPOINT_URL ??
        `https://fis.${region}.${suffix}`,
    );
    this.signer = new SignatureV4({
      service: 'fis',
      region,
      credentials: options.credentials ?? defaultProvider(),
      sha256: Sha256,
    });
    this.maxAttempts = options.maxAttempts ?? 5;
    this.timeoutMs = options.timeoutMs ?? 10_000;
  }

  /** Starts an experiment from a template; the same client token never starts a second one. */
  async start(templateId: string, clientToken: string, tags: Record<string, string>): Promise<string> {
    const out = await this.call('POST', '/experiments', {
      experimentTemplateId: templateId,
      clientToken,
      tags,
    });
    const id = out.experiment?.id;
    if (!id) throw new HomeostatError(`FIS started no experiment from template ${templateId}`);
    return id;
  }

  /** Stops the experiment if it is still acting; whether it had to. */
  async stopIfRunning(id: string): Promise<boolean> {
    const path = `/experiments/${encodeURIComponent(id)}`;
    const out = await this.call('GET', path);
    if (!live.has(out.experiment?.state?.status ?? '')) return false;
    await this.call('DELETE', path);
    return true;
  }

  private async call(method: string, path: string, body?: unknown): Promise<{ experiment?: Experiment }> {
    try {
      return await withRetry(() => this.send(method, path, body), {
        attempts: this.maxAttempts,
        retryable: isRetryable,
      });
    } catch (error) {
      if (error instanceof HomeostatError) throw error;
      throw new DependencyUnavailableError('FIS', (error as Error).message, { cause: error });
    }
  }

  private async send(method: string, path: string, body?: unknown): Promise<{ experiment?: Experiment }> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const base = this.endpoint.pathname.replace(/\/$/, '');
    const signed = await this.signer.sign({
      method,
      protocol: this.endpoint.protocol,
      hostname: this.endpoint.hostname,
      port: this.endpoint.port ? Number(this.endpoint.port) : undefined,
      path: `${base}${path}`,
      query: {},
      headers: {
        host: this.endpoint.host,
        ...(payload === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: payload,
    });
    const { host: _host, ...headers } = signed.headers;
    const response = await fetch(new URL(`${base}${path}`, this.endpoint), {
      method,
      headers,
      ...(payload === undefined ? {} : { body: payload }),
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    const text = await response.text();
    let parsed: Record<string, unknown> = {};
    try {
      parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    } catch {
      // Not JSON (a proxy's error page): described by the status below.
    }
    if (!response.ok) {
      const type = response.headers.get('x-amzn-errortype') ?? String(parsed.code ?? parsed.__type ?? '');
      const name = type.split(/[:,]/)[0]?.split('#').pop() || `Http${response.status}`;
      const message = String(parsed.message ?? parsed.Message ?? text.slice(0, 200));
      throw new FisError(name, `FIS ${method} ${path}: ${name}: ${message}`, response.status);
    }
    return parsed as { experiment?: Experiment };
  }
}
