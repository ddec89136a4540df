import type { Stack } from 'aws-cdk-lib';

/** A cross-region inference profile id (`us.`, `eu.`, `apac.`, `global.` …) rather than a model id. */
export const isInferenceProfile = (id: string) => /^[a-z]{2,6}\./.test(id) && !id.startsWith('anthropic.');

/**
 * What bedrock:InvokeModel must name to converse with `model`: the foundation model in the
 * stack's region, or an inference profile and its foundation model in any region it routes to.
 */
export function bedrockModelArns(stack: Stack, model: string): string[] {
  return isInferenceProfile(model)
    ? [
        stack.formatArn({ service: 'bedrock', resource: 'inference-profile', resourceName: model }),
        // A profile routes to the model in any of its regions.
        stack.formatArn({
          service: 'bedrock',
          region: '*',
          account: '',
          resource: 'foundation-model',
          resourceName: model.replace(/^[a-z]+\./, ''),
        }),
      ]
    : [
        stack.formatArn({
          service: 'bedrock',
          account: '',
          resource: 'foundation-model',
          resourceName: model,
        }),
      ];
}
