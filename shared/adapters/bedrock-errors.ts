import type { FallbackCause } from '../domain/diagnosis.ts';

/** A failed Bedrock Runtime call's cause: every category of FallbackCause an SDK error can have. */
export type BedrockFailure = Extract<
  FallbackCause,
  'access_denied' | 'throttled' | 'timeout' | 'unavailable' | 'rejected'
>;

/**
 * The Bedrock Runtime API's documented errors (Converse and InvokeModel, "Errors" in the API
 * reference; "Troubleshooting Amazon Bedrock API error codes" in the user guide), by the SDK
 * error's `name`:
 * - AccessDeniedException (403): the role lacks bedrock:InvokeModel, or model access is not
 *   granted in the account; ResourceNotFoundException (404): the model is not enabled here
 *   (the Anthropic use-case form not submitted) or the id names no model in this region.
 * - ThrottlingException (429), ServiceQuotaExceededException (400): over the account's quota;
 *   the SDK has already retried them (adaptive mode, `clientDefaults.maxAttempts`).
 * - ModelTimeoutException (408): the model took too long. TimeoutError / AbortError: the
 *   request was cut at the incident's deadline (the abort signal) or by the socket timeout.
 * - InternalServerException (500), ServiceUnavailableException (503), ModelNotReadyException
 *   (429, retried by the SDK), ModelErrorException (424): Bedrock or the model failed.
 * - ValidationException (400): the request as made is refused (on-demand throughput not
 *   supported for the id, say: use an inference profile).
 */
const byName: Record<string, BedrockFailure> = {
  AccessDeniedException: 'access_denied',
  ResourceNotFoundException: 'access_denied',
  ThrottlingException: 'throttled',
  ServiceQuotaExceededException: 'throttled',
  ModelTimeoutException: 'timeout',
  TimeoutError: 'timeout',
  AbortError: 'timeout',
  InternalServerException: 'unavailable',
  ServiceUnavailableException: 'unavailable',
  ModelNotReadyException: 'unavailable',
  ModelErrorException: 'unavailable',
  ValidationException: 'rejected',
};

/**
 * Classifies an error thrown by a Bedrock Runtime call: by its SDK name first (the list above),
 * then by HTTP status for names not in it (403 denied, 429 throttled, 408 timeout, 5xx
 * unavailable, any other 4xx rejected); no status at all is the network (unavailable).
 */
export function classifyBedrockError(error: unknown): BedrockFailure {
  const name = (error as { name?: unknown } | null)?.name;
  const known = typeof name === 'string' ? byName[name] : undefined;
  if (known) return known;
  const status = (error as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata?.httpStatusCode;
  if (status === undefined || status >= 500) return 'unavailable';
  if (status === 403) return 'access_denied';
  if (status === 429) return 'throttled';
  if (status === 408) return 'timeout';
  return 'rejected';
}

/** Errors that say "not now, not here" (everything but a rejected request): callers degrade to the offline path. */
export const isUnavailable = (error: unknown): boolean => classifyBedrockError(error) !== 'rejected';
