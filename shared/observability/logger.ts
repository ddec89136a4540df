import { Logger } from '@aws-lambda-powertools/logger';

/**
 * One structured JSON logger per agent. The correlation id (the incident id once
 * there is one, else the source event id) goes on every line via appendKeys.
 */
export function createLogger(serviceName: string): Logger {
  return new Logger({ serviceName, logLevel: (process.env.LOG_LEVEL as 'INFO' | undefined) ?? 'INFO' });
}

export type { Logger };
