import * as z from 'zod/mini';
import { ConfigurationError } from '../domain/errors.ts';
import type { LearningSettings } from '../domain/learning.ts';
import { describeIssues } from '../events/zod.ts';

/**
 * How Homeostat learns and whom it tells: CDK context `homeostat:learning`
 * (every field optional), passed to the learn and notify agents as JSON in
 * HOMEOSTAT_LEARNING.
 */
export const learningConfigSchema = z.object({
  /** The same fingerprint closing this many times on a service within `recurrenceWindowDays` is a pattern to fix. */
  recurrenceCount: z._default(z.int().check(z.gte(2)), 3),
  recurrenceWindowDays: z._default(z.number().check(z.positive()), 7),
  /** Right answers in a row before promoting an action's autonomy is recommended. */
  promotionStreak: z._default(z.int().check(z.positive()), 5),
  /** Past incidents closer than this cosine distance are linked similar_to. */
  similarDistance: z._default(z.number().check(z.gt(0), z.lte(2)), 0.35),
  /** Write the incident narrative with the Bedrock model (the template otherwise, and as fallback). */
  modelNarrative: z._default(z.boolean(), false),
});

export type LearningConfig = z.infer<typeof learningConfigSchema>;

export function parseLearningConfig(value: unknown, where = 'HOMEOSTAT_LEARNING'): LearningConfig {
  const parsed = learningConfigSchema.safeParse(value ?? {});
  if (!parsed.success) throw new ConfigurationError(`${where}: ${describeIssues(parsed.error).join('; ')}`);
  return parsed.data;
}

export function learningSettings(config: LearningConfig): LearningSettings {
  return {
    recurrence: { count: config.recurrenceCount, windowDays: config.recurrenceWindowDays },
    promotionStreak: config.promotionStreak,
    similarDistance: config.similarDistance,
  };
}

/** From the agents' environment (empty: every default). */
export function learningConfigFromEnv(json: string | undefined): LearningConfig {
  if (!json || json.trim() === '') return parseLearningConfig({});
  try {
    return parseLearningConfig(JSON.parse(json));
  } catch (error) {
    if (error instanceof ConfigurationError) throw error;
    throw new ConfigurationError('HOMEOSTAT_LEARNING must be a JSON object');
  }
}
