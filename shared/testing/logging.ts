/** Handler-test helpers: a logger whose JSON lines are captured, and a Lambda context. */
import { Logger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';

/** Captures the logger's JSON lines instead of printing them. */
export function capturingLogger() {
  const lines: Record<string, unknown>[] = [];
  const logger = new Logger({ serviceName: 'test' });
  const write = (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>);
  (logger as unknown as { console: Record<string, (line: string) => void> }).console = {
    info: write,
    error: write,
    warn: write,
    debug: write,
    log: write,
    trace: write,
  };
  return { logger, lines };
}

export const lambdaContext = (functionName: string) =>
  ({ functionName, awsRequestId: 'req-1', getRemainingTimeInMillis: () => 30_000 }) as Context;
