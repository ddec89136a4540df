import { resolve } from 'node:path';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Node } from 'constructs';
import type { WatchedServiceProps } from '../constructs/watched-service.ts';

/** Deploy-time settings, read from CDK context (cdk.json or `-c key=value`). */
export interface HomeostatSettings {
  /** Name of the custom bus. Context `homeostat:busName`. @default 'homeostat' */
  readonly busName: string;
  /** Secret holding the Neon URL. Context `homeostat:databaseUrlSecretName`. @default 'homeostat/database-url' */
  readonly databaseUrlSecretName: string;
  /** WebSocket→TCP proxy for non-Neon Postgres (local harness). Context `homeostat:databaseWsProxy`. */
  readonly databaseWsProxy: string | undefined;
  /**
   * Archive bus events for replay. Context `homeostat:archive`. @default true
   * (the local harness turns it off: MiniStack's CloudFormation has no AWS::Events::Archive).
   */
  readonly archive: boolean;
  /** Publish the event catalog to an EventBridge Schema Registry. Context `homeostat:schemaRegistry`. @default true */
  readonly schemaRegistry: boolean;
  /** Services to watch. Context `homeostat:watchedServices` (array of WatchedServiceProps). @default [] */
  readonly watchedServices: WatchedServiceProps[];
  /** Agent log retention. Context `homeostat:logRetentionDays`. @default 30 */
  readonly logRetentionDays: RetentionDays;
  /**
   * Embedding model: a Titan Text Embeddings V2 id, or `homeostat-hash-v1` (offline, no Bedrock).
   * Context `homeostat:embeddingModel`. @default 'amazon.titan-embed-text-v2:0'
   */
  readonly embeddingModel: string;
  /**
   * Your own runbooks (markdown), ingested on every deploy next to the bundled ones; checked at synth.
   * Context `homeostat:runbooksDir`, relative to the CDK app directory. @default none
   */
  readonly runbooksDir: string | undefined;
}

export function readSettings(node: Node): HomeostatSettings {
  const get = (key: string): unknown => node.tryGetContext(`homeostat:${key}`);
  const text = (key: string, fallback: string) => {
    const value = get(key);
    return typeof value === 'string' && value.length > 0 ? value : fallback;
  };
  const flag = (key: string) => get(key) !== false && get(key) !== 'false';
  const proxy = get('databaseWsProxy');
  const retention = Number(get('logRetentionDays') ?? 30);
  if (!(Object.values(RetentionDays) as unknown[]).includes(retention)) {
    throw new Error(
      `context homeostat:logRetentionDays must be a CloudWatch Logs retention (1, 3, 5, 7, 14, 30, 60, 90, … days), got ${get('logRetentionDays')}`,
    );
  }
  return {
    busName: text('busName', 'homeostat'),
    archive: flag('archive'),
    schemaRegistry: flag('schemaRegistry'),
    watchedServices: watchedServices(get('watchedServices')),
    databaseUrlSecretName: text('databaseUrlSecretName', 'homeostat/database-url'),
    databaseWsProxy: typeof proxy === 'string' && proxy.length > 0 ? proxy : undefined,
    logRetentionDays: retention,
    embeddingModel: text('embeddingModel', 'amazon.titan-embed-text-v2:0'),
    runbooksDir:
      typeof get('runbooksDir') === 'string' && get('runbooksDir') !== ''
        ? resolve(String(get('runbooksDir')))
        : undefined,
  };
}

/** Context may hold the list as JSON (from `-c`) or as an array (cdk.json). */
function watchedServices(value: unknown): WatchedServiceProps[] {
  const list = typeof value === 'string' ? (JSON.parse(value) as unknown) : (value ?? []);
  if (!Array.isArray(list))
    throw new Error('context homeostat:watchedServices must be an array of {cluster, service, …}');
  for (const entry of list) {
    if (typeof entry?.cluster !== 'string' || typeof entry?.service !== 'string') {
      throw new Error(
        `context homeostat:watchedServices: every entry needs cluster and service, got ${JSON.stringify(entry)}`,
      );
    }
  }
  return list as WatchedServiceProps[];
}
