import * as z from 'zod/mini';
import type { DiagnoserSettings, ModelPrice } from '../adapters/bedrock-diagnoser.ts';
import { ConfigurationError } from '../domain/errors.ts';

/**
 * The default diagnosis models, the one place their ids and prices are written (the README's
 * "Diagnosis and cost" quotes them). Global cross-Region inference profiles: Claude 4.5 models are
 * not offered on demand by their foundation-model id (Bedrock answers ValidationException), and a
 * `global.` profile is callable from any commercial Region. Override in context
 * `homeostat:diagnosis` (`fastModel`, `strongModel`, `prices`), e.g. with `eu.` profiles to keep
 * inference in the EU.
 */
export const defaultDiagnosisModels = {
  /** Claude Haiku 4.5: asked first. */
  fast: 'global.anthropic.claude-haiku-4-5-20251001-v1:0',
  /** Claude Sonnet 4.5: asked only when Haiku is unsure or its hypotheses conflict. */
  strong: 'global.anthropic.claude-sonnet-4-5-20250929-v1:0',
} as const;

/**
 * On-demand prices of the default models, US dollars per 1,000 tokens, as published in November
 * 2026 (Haiku 4.5: $1 / $5 per million tokens in / out; Sonnet 4.5: $3 / $15).
 */
export const defaultModelPrices: Record<string, ModelPrice> = {
  [defaultDiagnosisModels.fast]: { inputPer1k: 0.001, outputPer1k: 0.005 },
  [defaultDiagnosisModels.strong]: { inputPer1k: 0.003, outputPer1k: 0.015 },
};

/**
 * How the diagnosis agent diagnoses: environment variables, set by CDK from context
 * `homeostat:diagnosis` (DiagnosisAgent sets every one). Unset, the provider is offline: Bedrock
 * is used only where the construct granted it.
 */
export const diagnosisEnvFields = {
  /** `offline` (rules and knowledge, no model) or `bedrock` (Converse, with the offline rules as fallback). */
  HOMEOSTAT_DIAGNOSIS_PROVIDER: z._default(z.enum(['offline', 'bedrock']), 'offline'),
  HOMEOSTAT_FAST_MODEL: z._default(z.string(), defaultDiagnosisModels.fast),
  /** Empty: never escalate to a stronger model. */
  HOMEOSTAT_STRONG_MODEL: z._default(z.string(), defaultDiagnosisModels.strong),
  /** JSON: `{"<model id>": {"inputPer1k": 0.001, "outputPer1k": 0.005}}` in US dollars. */
  HOMEOSTAT_MODEL_PRICES: z._default(z.string(), '{}'),
  HOMEOSTAT_DIAGNOSIS_MAX_STEPS: z._default(z.coerce.number().check(z.int(), z.positive()), 8),
  HOMEOSTAT_DIAGNOSIS_MAX_INPUT_TOKENS: z._default(z.coerce.number().check(z.int(), z.positive()), 15_000),
  HOMEOSTAT_DIAGNOSIS_MAX_OUTPUT_TOKENS: z._default(z.coerce.number().check(z.int(), z.positive()), 1_500),
  HOMEOSTAT_DIAGNOSIS_TIMEOUT_SECONDS: z._default(z.coerce.number().check(z.positive()), 60),
};

const priceSchema = z.record(
  z.string(),
  z.object({ inputPer1k: z.number().check(z.gte(0)), outputPer1k: z.number().check(z.gte(0)) }),
);

export function parseModelPrices(json: string): Record<string, ModelPrice> {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    throw new ConfigurationError(
      'HOMEOSTAT_MODEL_PRICES must be JSON: {"<model id>": {"inputPer1k", "outputPer1k"}}',
    );
  }
  const parsed = priceSchema.safeParse(value);
  if (!parsed.success)
    throw new ConfigurationError(
      'HOMEOSTAT_MODEL_PRICES must map model ids to {"inputPer1k": number, "outputPer1k": number}',
    );
  return parsed.data;
}

type DiagnosisEnv = { [K in keyof typeof diagnosisEnvFields]: z.infer<(typeof diagnosisEnvFields)[K]> };

export function diagnoserSettings(env: DiagnosisEnv): DiagnoserSettings {
  return {
    fastModel: env.HOMEOSTAT_FAST_MODEL,
    strongModel: env.HOMEOSTAT_STRONG_MODEL === '' ? null : env.HOMEOSTAT_STRONG_MODEL,
    maxSteps: env.HOMEOSTAT_DIAGNOSIS_MAX_STEPS,
    maxInputTokens: env.HOMEOSTAT_DIAGNOSIS_MAX_INPUT_TOKENS,
    maxOutputTokens: env.HOMEOSTAT_DIAGNOSIS_MAX_OUTPUT_TOKENS,
    timeoutMs: env.HOMEOSTAT_DIAGNOSIS_TIMEOUT_SECONDS * 1000,
    prices: parseModelPrices(env.HOMEOSTAT_MODEL_PRICES),
  };
}
