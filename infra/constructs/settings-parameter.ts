import { Stack } from 'aws-cdk-lib';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import type { Construct } from 'constructs';
import { settingsMaxAgeSeconds, settingsParameterName } from '../../shared/config/settings-parameters.ts';
import type { AgentFunction } from './agent-function.ts';
import type { HomeostatBus } from './homeostat-bus.ts';

export type SettingsKind = 'remediation' | 'learning';

/** The environment variable that names a kind's parameter to the agents reading it. */
export const settingsParameterVariable: Record<SettingsKind, string> = {
  remediation: 'HOMEOSTAT_REMEDIATION_PARAMETER',
  learning: 'HOMEOSTAT_LEARNING_PARAMETER',
};

const created = new WeakMap<Stack, Map<SettingsKind, { parameter: ssm.StringParameter; json: string }>>();

/**
 * Gives `agent` the stack's settings parameter of `kind` (`/homeostat/<busName>/settings/<kind>`,
 * a String of standard tier holding `settings` as JSON, validated at synth): the variable naming
 * it and ssm:GetParameter on it alone. The first construct that asks creates it at stack level;
 * the others share it, and asking with different settings is an error (one value per stack).
 * Agents read it through Powertools Parameters, cached settingsMaxAgeSeconds (60 s).
 */
export function readSettingsParameter(
  scope: Construct,
  agent: AgentFunction,
  bus: HomeostatBus,
  kind: SettingsKind,
  settings: object,
): ssm.StringParameter {
  const stack = Stack.of(scope);
  const json = JSON.stringify(settings);
  let byKind = created.get(stack);
  if (!byKind) {
    byKind = new Map();
    created.set(stack, byKind);
  }
  let entry = byKind.get(kind);
  if (!entry) {
    if (Buffer.byteLength(json) > 4096)
      throw new Error(
        `${kind} settings: ${Buffer.byteLength(json)} bytes of JSON, over a standard parameter's 4 KB`,
      );
    const parameter = new ssm.StringParameter(stack, `Settings-${kind}`, {
      parameterName: settingsParameterName(bus.name, kind),
      stringValue: json,
      tier: ssm.ParameterTier.STANDARD,
      description: `Homeostat ${kind} settings, read by the agents (cached ${settingsMaxAgeSeconds} s); written by the deploy: change context homeostat:${kind}`,
    });
    entry = { parameter, json };
    byKind.set(kind, entry);
  } else if (entry.json !== json) {
    throw new Error(`${scope.node.path}: ${kind} settings differ from those another construct wrote`);
  }
  agent.function.addEnvironment(settingsParameterVariable[kind], entry.parameter.parameterName);
  entry.parameter.grantRead(agent.function);
  return entry.parameter;
}
