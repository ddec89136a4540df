/**
 * Reads the settings the deploy wrote to SSM Parameter Store (names in
 * shared/config/settings-parameters.ts) through the one Powertools Parameters
 * reader, cached for `maxAgeSeconds` (default settingsMaxAgeSeconds, 60 s), and
 * validates them with the zod schemas the synth used. Agents call these per
 * invocation: a warm function sees a redeploy's values within the cache age.
 * Each value read is validated once (the cache hands back the same object).
 */
import type { SSMClient } from '@aws-sdk/client-ssm';
import {
  type ChaosSettingsConfig,
  checkExperiment,
  type ExperimentParameter,
  parseChaosSettings,
} from '../config/chaos.ts';
import { type LearningConfig, parseLearningConfig } from '../config/learning.ts';
import {
  parseRemediationConfig,
  type RemediationSettings,
  remediationSettings,
} from '../config/remediation.ts';
import { chaosSettingsKey, experimentKey, settingsMaxAgeSeconds } from '../config/settings-parameters.ts';
import { ConfigurationError } from '../domain/errors.ts';
import { type ReadOptions, readJsonParameter, readJsonParametersByPath } from './parameters.ts';

/** An experiment parameter left out, and why (the schema's issues by field, or not JSON). */
export interface SkippedParameter {
  /** The parameter's full name. */
  parameter: string;
  reason: string;
}

export interface ChaosParameters {
  settings: ChaosSettingsConfig;
  /** The valid experiments, by name order. */
  experiments: ExperimentParameter[];
  /** Experiment → FIS experiment template id, for the `fis` experiments the stack created templates for. */
  fisTemplates: Record<string, string>;
  /** Parameters under the path that were not valid experiments: never run, never fatal to the others. */
  skipped: SkippedParameter[];
}

/** Validation result per value read: the provider's cache returns the same object until it expires. */
function memoByValue<T>(parse: (value: Record<string, unknown>) => T) {
  const parsed = new WeakMap<object, T>();
  return (value: Record<string, unknown>): { result: T; fresh: boolean } => {
    const known = parsed.get(value);
    if (known !== undefined) return { result: known, fresh: false };
    const result = parse(value);
    parsed.set(value, result);
    return { result, fresh: true };
  };
}

/**
 * The chaos configuration from the parameters under `path` (values JSON-decoded, by relative
 * name). The settings parameter must be there and valid (ConfigurationError otherwise: no
 * guardrails, no chaos); each experiment parameter is checked alone, and an invalid one —
 * not JSON, failing the schema, or named differently from its parameter — is skipped with the reason.
 */
export function chaosFromParameters(path: string, values: Record<string, unknown>): ChaosParameters {
  const settingsName = `${path}/${chaosSettingsKey}`;
  if (!(chaosSettingsKey in values)) throw new ConfigurationError(`parameter ${settingsName} does not exist`);
  const raw = values[chaosSettingsKey];
  if (raw === undefined) throw new ConfigurationError(`parameter ${settingsName} does not hold JSON`);
  const settings = parseChaosSettings(raw, `parameter ${settingsName}`);
  const experiments: ExperimentParameter[] = [];
  const skipped: SkippedParameter[] = [];
  for (const key of Object.keys(values).sort()) {
    if (key === chaosSettingsKey) continue;
    const parameter = `${path}/${key}`;
    const value = values[key];
    if (value === undefined) {
      skipped.push({ parameter, reason: 'not JSON' });
      continue;
    }
    const checked = checkExperiment(value);
    if (!checked.ok) skipped.push({ parameter, reason: checked.reason });
    else if (experimentKey(checked.experiment.name) !== key)
      skipped.push({
        parameter,
        reason: `holds experiment "${checked.experiment.name}"; expected ${path}/${experimentKey(checked.experiment.name)}`,
      });
    else experiments.push(checked.experiment);
  }
  const fisTemplates = Object.fromEntries(
    experiments.flatMap((e) => (e.fisTemplateId ? [[e.name, e.fisTemplateId]] : [])),
  );
  return { settings, experiments, fisTemplates, skipped };
}

const chaosByValue = new Map<string, ReturnType<typeof memoByValue<ChaosParameters>>>();

/**
 * Reads the chaos parameters under `path` (cached for `maxAgeSeconds`, default 60) and validates
 * them (chaosFromParameters). `onSkipped` hears the invalid experiments once per value read, not
 * on every cached call. Throws ConfigurationError for a missing or invalid settings parameter,
 * the SDK's error when SSM cannot be read.
 */
export async function readChaosParameters(
  ssm: SSMClient,
  path: string,
  options: ReadOptions & { onSkipped?: (skipped: SkippedParameter[]) => void } = {},
): Promise<ChaosParameters> {
  const values = await readJsonParametersByPath(ssm, path, {
    maxAgeSeconds: options.maxAgeSeconds ?? settingsMaxAgeSeconds,
  });
  let parse = chaosByValue.get(path);
  if (!parse) {
    parse = memoByValue((v) => chaosFromParameters(path, v));
    chaosByValue.set(path, parse);
  }
  const { result, fresh } = parse(values);
  if (fresh && result.skipped.length > 0) options.onSkipped?.(result.skipped);
  return result;
}

/** Reads one JSON settings parameter (cached) and validates it with `parse`, once per value read. */
function settingsReader<T>(parse: (value: unknown, where: string) => T) {
  const byName = new Map<string, ReturnType<typeof memoByValue<T>>>();
  return async (ssm: SSMClient, name: string, options: ReadOptions = {}): Promise<T> => {
    const value = await readJsonParameter(ssm, name, {
      maxAgeSeconds: options.maxAgeSeconds ?? settingsMaxAgeSeconds,
    });
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      throw new ConfigurationError(`parameter ${name} must hold a JSON object`);
    let memo = byName.get(name);
    if (!memo) {
      memo = memoByValue((v) => parse(v, `parameter ${name}`));
      byName.set(name, memo);
    }
    return memo(value as Record<string, unknown>).result;
  };
}

/**
 * The remediation settings (ms-based, the domain's view) from their parameter, cached for
 * `maxAgeSeconds` (default 60). ConfigurationError when it is missing, not JSON or invalid.
 */
export const readRemediationSettings: (
  ssm: SSMClient,
  name: string,
  options?: ReadOptions,
) => Promise<RemediationSettings> = settingsReader((value, where) =>
  remediationSettings(parseRemediationConfig(value, where)),
);

/**
 * The learning settings from their parameter, cached for `maxAgeSeconds` (default 60).
 * ConfigurationError when it is missing, not JSON or invalid.
 */
export const readLearningConfig: (
  ssm: SSMClient,
  name: string,
  options?: ReadOptions,
) => Promise<LearningConfig> = settingsReader(parseLearningConfig);
