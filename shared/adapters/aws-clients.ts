/**
 * Shared SDK client settings. The SDK reads AWS_ENDPOINT_URL / AWS_REGION itself,
 * so the same code talks to AWS or to the local emulator without branches.
 */
export const clientDefaults = {
  maxAttempts: 5,
  retryMode: 'adaptive',
} as const;

/** Lazily creates a value once, so cold start pays for a client only when it is used. */
export function lazy<T>(create: () => T): () => T {
  let value: T | undefined;
  return () => {
    value ??= create();
    return value;
  };
}

/** Like `lazy` for async values: created once and shared; a failed attempt is retried on the next call. */
export function lazyAsync<T>(create: () => Promise<T>): () => Promise<T> {
  let value: Promise<T> | undefined;
  return () => {
    value ??= create().catch((error: unknown) => {
      value = undefined;
      throw error;
    });
    return value;
  };
}
