export interface RetryOptions {
  /** Total attempts including the first. @default 4 */
  attempts?: number;
  /** Delay before the first retry; doubles each time, with full jitter. @default 100 */
  baseDelayMs?: number;
  /** Upper bound for one delay. @default 2000 */
  maxDelayMs?: number;
  /** Whether an error is worth retrying. @default every error */
  retryable?: (error: unknown) => boolean;
  /** Told about each failed attempt that will be retried. */
  onRetry?: (error: unknown, attempt: number, delayMs: number) => void;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Runs `operation` with exponential backoff and full jitter; rethrows the last error. */
export async function withRetry<T>(operation: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const attempts = options.attempts ?? 4;
  const base = options.baseDelayMs ?? 100;
  const max = options.maxDelayMs ?? 2000;
  const sleep = options.sleep ?? defaultSleep;
  const random = options.random ?? Math.random;
  for (let attempt = 1; ; attempt++) {
    try {
      return await operation();
    } catch (error) {
      const retryable = options.retryable?.(error) ?? true;
      if (!retryable || attempt >= attempts) throw error;
      const delayMs = Math.round(random() * Math.min(max, base * 2 ** (attempt - 1)));
      options.onRetry?.(error, attempt, delayMs);
      await sleep(delayMs);
    }
  }
}
