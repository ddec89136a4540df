import { resolve } from 'node:path';
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Node } from 'constructs';
import { type ChaosConfig, parseChaosConfig } from '../../shared/config/chaos.ts';
import { defaultDiagnosisModels, defaultModelPrices } from '../../shared/config/diagnosis.ts';
import {
  type LearningConfig,
  type NotificationConfig,
  parseLearningConfig,
  parseNotificationConfig,
} from '../../shared/config/learning.ts';
import { parseRemediationConfig, type RemediationConfig } from '../../shared/config/remediation.ts';
import type { WatchedServiceProps } from '../constructs/watched-service.ts';

/**
 * How incidents are diagnosed. Context `homeostat:diagnosis` (an object; every field optional).
 * By default Bedrock answers (Claude Haiku 4.5, then Sonnet 4.5 when unsure: ids and prices in
 * shared/config/diagnosis.ts, `defaultDiagnosisModels`), and the offline rules answer whenever
 * Bedrock denies access, throttles, times out or the budget is spent. `{"provider": "offline"}`
 * uses no model at all (the local harness does).
 */
export interface DiagnosisSettings {
  /** `bedrock` (offline rules as fallback) or `offline` (rules and knowledge, no model, no cost). @default 'bedrock' */
  readonly provider: 'offline' | 'bedrock';
  /** Asked first. @default 'global.anthropic.claude-haiku-4-5-20251001-v1:0' (Claude Haiku 4.5) */
  readonly fastModel: string;
  /**
   * Asked only when the fast model is unsure or its hypotheses conflict; null: never.
   * @default 'global.anthropic.claude-sonnet-4-5-20250929-v1:0' (Claude Sonnet 4.5)
   */
  readonly strongModel: string | null;
  /** US dollars per 1,000 tokens, per model id, for the cost recorded per incident. @default the default models' published prices */
  readonly prices: Record<string, { inputPer1k: number; outputPer1k: number }>;
  /** Model calls per incident. @default 8 */
  readonly maxSteps: number;
  /** Token budget per incident. @default 15,000 in, 1,500 out */
  readonly maxInputTokens: number;
  readonly maxOutputTokens: number;
  /** Wall-clock budget of the model loop, in seconds. @default 60 */
  readonly timeoutSeconds: number;
}

export { defaultModelPrices };

export const defaultDiagnosisSettings: DiagnosisSettings = {
  provider: 'bedrock',
  fastModel: defaultDiagnosisModels.fast,
  strongModel: defaultDiagnosisModels.strong,
  prices: defaultModelPrices,
  maxSteps: 8,
  maxInputTokens: 15_000,
  maxOutputTokens: 1_500,
  timeoutSeconds: 60,
};

/** Deploy-time settings, read from CDK context (cdk.json or `-c key=value`). */
export interface HomeostatSettings {
  /** Name of the custom bus. Context `homeostat:busName`. @default 'homeostat' */
  readonly busName: string;
  /** Secret holding the Neon URL. Context `homeostat:databaseUrlSecretName`. @default 'homeostat/database-url' */
  readonly databaseUrlSecretName: string;
  /**
   * Secret holding the schema owner's URL, for the migrator; the agents then use
   * databaseUrlSecretName as the runtime role (see the README's database section).
   * Context `homeostat:ownerDatabaseUrlSecretName`. @default none: the migrator uses the agents' URL
   */
  readonly ownerDatabaseUrlSecretName: string | undefined;
  /** WebSocket→TCP proxy for non-Neon Postgres (local harness). Context `homeostat:databaseWsProxy`. */
  readonly databaseWsProxy: string | undefined;
  /**
   * Archive bus events for replay. Context `homeostat:archive`. @default true
   * (the local harness turns it off: MiniStack's CloudFormation has no AWS::Events::Archive).
   */
  readonly archive: boolean;
  /**
   * Alarms on metric math (the agents' error rates). Context `homeostat:metricMathAlarms`. @default true
   * (the local harness turns it off: MiniStack's CloudFormation has no metric-math alarms; errors are then alarmed by count).
   */
  readonly metricMathAlarms: boolean;
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
  readonly diagnosis: DiagnosisSettings;
  /** How services are remediated. Context `homeostat:remediation` (an object; every field optional; see shared/config/remediation.ts). */
  readonly remediation: RemediationConfig;
  /** The kill-switch parameter. Context `homeostat:killSwitchParameter`. @default '/homeostat/kill-switch' */
  readonly killSwitchParameterName: string;
  /** Recurrence, earned autonomy, similar incidents. Context `homeostat:learning` (see shared/config/learning.ts). */
  readonly learning: LearningConfig;
  /** Slack, e-mail, heartbeat and self-alarm thresholds. Context `homeostat:notifications`. */
  readonly notifications: NotificationConfig;
  /** Chaos experiments, their schedules (disabled by default) and guardrails. Context `homeostat:chaos` (see shared/config/chaos.ts). */
  readonly chaos: ChaosConfig;
  /**
   * Also deploy the sample target stack (HomeostatSampleTarget: a small HTTP service on Fargate behind an ALB,
   * opted in to chaos, watched, with two experiments). Context `homeostat:sampleTarget`. @default false
   */
  readonly sampleTarget: boolean;
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
    metricMathAlarms: flag('metricMathAlarms'),
    watchedServices: watchedServices(get('watchedServices')),
    databaseUrlSecretName: text('databaseUrlSecretName', 'homeostat/database-url'),
    ownerDatabaseUrlSecretName: text('ownerDatabaseUrlSecretName', '') || undefined,
    databaseWsProxy: typeof proxy === 'string' && proxy.length > 0 ? proxy : undefined,
    logRetentionDays: retention,
    embeddingModel: text('embeddingModel', 'amazon.titan-embed-text-v2:0'),
    runbooksDir:
      typeof get('runbooksDir') === 'string' && get('runbooksDir') !== ''
        ? resolve(String(get('runbooksDir')))
        : undefined,
    diagnosis: diagnosisSettings(get('diagnosis')),
    remediation: parseRemediationConfig(
      typeof get('remediation') === 'string' ? JSON.parse(String(get('remediation'))) : get('remediation'),
      'context homeostat:remediation',
    ),
    killSwitchParameterName: text('killSwitchParameter', '/homeostat/kill-switch'),
    learning: parseLearningConfig(objectContext(get('learning')), 'context homeostat:learning'),
    notifications: parseNotificationConfig(objectContext(get('notifications'))),
    chaos: parseChaosConfig(objectContext(get('chaos')), 'context homeostat:chaos'),
    sampleTarget: get('sampleTarget') === true || get('sampleTarget') === 'true',
  };
}

/** Context may hold an object as JSON (from `-c`) or as an object (cdk.json). */
const objectContext = (value: unknown): unknown => (typeof value === 'string' ? JSON.parse(value) : value);

/** Context may hold the object as JSON (from `-c`) or as an object (cdk.json). */
function diagnosisSettings(value: unknown): DiagnosisSettings {
  const given = (typeof value === 'string' ? JSON.parse(value) : (value ?? {})) as Partial<DiagnosisSettings>;
  const merged: DiagnosisSettings = {
    ...defaultDiagnosisSettings,
    ...given,
    prices: { ...defaultModelPrices, ...(given.prices ?? {}) },
  };
  const problems = [
    !['offline', 'bedrock'].includes(merged.provider) && 'provider must be "offline" or "bedrock"',
    (typeof merged.fastModel !== 'string' || merged.fastModel === '') && 'fastModel must be a model id',
    merged.strongModel !== null &&
      typeof merged.strongModel !== 'string' &&
      'strongModel must be a model id or null',
    ...(['maxSteps', 'maxInputTokens', 'maxOutputTokens', 'timeoutSeconds'] as const).map(
      (k) => !(Number.isInteger(merged[k]) && merged[k] > 0) && `${k} must be a positive integer`,
    ),
    merged.timeoutSeconds > 840 && 'timeoutSeconds must leave room within the 15-minute Lambda limit (≤ 840)',
    ...Object.entries(merged.prices).map(
      ([model, p]) =>
        !(typeof p?.inputPer1k === 'number' && typeof p?.outputPer1k === 'number') &&
        `prices["${model}"] must be {inputPer1k, outputPer1k} in US dollars`,
    ),
  ].filter((p): p is string => typeof p === 'string');
  if (problems.length > 0) throw new Error(`context homeostat:diagnosis: ${problems.join('; ')}`);
  return merged;
}

/** Context may hold the list as JSON (from `-c`) or as an array (cdk.json). */
function watchedServices(value: unknown): WatchedServiceProps[] {
  const list = typeof value === 'string' ? (JSON.parse(value) as unknown) : (value ?? []);
  if (!Array.isArray(list))
    throw new Error('context homeostat:watchedServices must be an array of {cluster, service, …}');
  const strings = (value: unknown) =>
    value === undefined || (Array.isArray(value) && value.every((v) => typeof v === 'string' && v !== ''));
  for (const entry of list) {
    if (typeof entry?.cluster !== 'string' || typeof entry?.service !== 'string') {
      throw new Error(
        `context homeostat:watchedServices: every entry needs cluster and service, got ${JSON.stringify(entry)}`,
      );
    }
    for (const key of ['maintenanceTasks', 'taskRoles'] as const)
      if (!strings(entry[key]))
        throw new Error(
          `context homeostat:watchedServices: ${entry.cluster}/${entry.service} ${key} must be a list of names or ARNs`,
        );
  }
  return list as WatchedServiceProps[];
}
