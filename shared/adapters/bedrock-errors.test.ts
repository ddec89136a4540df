import {
  AccessDeniedException,
  InternalServerException,
  ModelErrorException,
  ModelNotReadyException,
  ModelTimeoutException,
  ResourceNotFoundException,
  ServiceQuotaExceededException,
  ServiceUnavailableException,
  ThrottlingException,
  ValidationException,
} from '@aws-sdk/client-bedrock-runtime';
import { describe, expect, it } from 'vitest';
import { classifyBedrockError, isUnavailable } from './bedrock-errors.ts';

const meta = (httpStatusCode: number, attempts = 1) => ({ $metadata: { httpStatusCode, attempts } });

/** An error as the SDK leaves it for a name it has no class for. */
const unmodelled = (name: string, httpStatusCode?: number) =>
  Object.assign(new Error(`${name} happened`), { name, $metadata: { httpStatusCode } });

describe('classifying Bedrock Runtime errors by SDK name', () => {
  it.each([
    [
      'access denied (IAM, model access not granted)',
      new AccessDeniedException({
        message: "You don't have access to the model with the specified model ID.",
        ...meta(403),
      }),
      'access_denied',
    ],
    [
      'model not enabled (use-case form) or not in the Region',
      new ResourceNotFoundException({
        message: 'Model use case details have not been submitted for this account.',
        ...meta(404),
      }),
      'access_denied',
    ],
    [
      'throttled after the SDK retries',
      new ThrottlingException({
        message: 'Too many requests, please wait before trying again.',
        ...meta(429, 5),
      }),
      'throttled',
    ],
    [
      'over the service quota',
      new ServiceQuotaExceededException({
        message: 'Your request exceeds the service quota for your account.',
        ...meta(400),
      }),
      'throttled',
    ],
    [
      'model timed out',
      new ModelTimeoutException({ message: 'Model has timed out in processing the request.', ...meta(408) }),
      'timeout',
    ],
    ['internal error', new InternalServerException({ message: 'internal', ...meta(500) }), 'unavailable'],
    [
      'service unavailable',
      new ServiceUnavailableException({ message: 'unavailable', ...meta(503) }),
      'unavailable',
    ],
    ['model not ready', new ModelNotReadyException({ message: 'not ready', ...meta(429) }), 'unavailable'],
    ['model error', new ModelErrorException({ message: 'model failed', ...meta(424) }), 'unavailable'],
    [
      'request refused as made',
      new ValidationException({
        message:
          "Invocation of model ID anthropic.claude-haiku-4-5-20251001-v1:0 with on-demand throughput isn't supported.",
        ...meta(400),
      }),
      'rejected',
    ],
    ['request aborted at the incident deadline', unmodelled('AbortError'), 'timeout'],
    ['socket timeout', unmodelled('TimeoutError'), 'timeout'],
  ] as const)('%s', (_what, error, cause) => {
    expect(classifyBedrockError(error)).toBe(cause);
  });

  it('falls back to the HTTP status for a name it does not know', () => {
    expect(classifyBedrockError(unmodelled('UnrecognizedClientException', 403))).toBe('access_denied');
    expect(classifyBedrockError(unmodelled('TooManyRequestsException', 429))).toBe('throttled');
    expect(classifyBedrockError(unmodelled('RequestTimeout', 408))).toBe('timeout');
    expect(classifyBedrockError(unmodelled('BadGateway', 502))).toBe('unavailable');
    expect(classifyBedrockError(unmodelled('SomethingElse', 400))).toBe('rejected');
    // No HTTP status at all: the network (connection refused, DNS).
    expect(
      classifyBedrockError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })),
    ).toBe('unavailable');
    expect(classifyBedrockError(undefined)).toBe('unavailable');
  });

  it('counts every failure but a refused request as unavailable (callers degrade to the offline path)', () => {
    expect(isUnavailable(new ThrottlingException({ message: 'slow down', ...meta(429) }))).toBe(true);
    expect(isUnavailable(new AccessDeniedException({ message: 'no', ...meta(403) }))).toBe(true);
    expect(isUnavailable(new ValidationException({ message: 'bad', ...meta(400) }))).toBe(false);
  });
});
