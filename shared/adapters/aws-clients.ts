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
