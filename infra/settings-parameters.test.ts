import type { NestedStack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { chaosConfigSchema } from '../shared/config/chaos.ts';
import { HomeostatStack } from './lib/homeostat-stack.ts';
import { readSettings } from './lib/settings.ts';
import { testApp } from './testing.ts';

/** Lambda's limit on a function's environment: the sum of every key's and value's bytes. */
const lambdaEnvironmentLimit = 4096;

type Resource = { Type: string; Properties: Record<string, unknown> };
type Statement = { Sid?: string; Action: string | string[]; Resource: unknown };

const variablesOf = (r: Resource | undefined): Record<string, unknown> =>
  (r?.Properties.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables ?? {};

/** A function's environment size as Lambda counts it; a token (Ref, GetAtt) counts as 200 bytes, more than any ARN it becomes here. */
function environmentBytes(variables: Record<string, unknown>): number {
  return Object.entries(variables).reduce(
    (sum, [key, value]) =>
      sum + Buffer.byteLength(key) + (typeof value === 'string' ? Buffer.byteLength(value) : 200),
    0,
  );
}

const faults = [
  { kind: 'stop_tasks' },
  { kind: 'scale_to', desiredCount: 1 },
  { kind: 'bad_deployment', fault: 'environment' },
  { kind: 'break_dependency', parameterName: '/shop/db-url' },
  { kind: 'fis', action: 'network_latency', stopAlarms: ['shop-5xx', 'shop-latency'] },
];

/** `count` experiments on distinct services, each scheduled (the costliest shape), every fault kind. */
const manyExperiments = (count: number) =>
  Array.from({ length: count }, (_, i) => ({
    name: `experiment-${String(i).padStart(3, '0')}-${faults[i % faults.length]?.kind.replace('_', '-')}`,
    target: { cluster: 'shop', service: `service-${i}` },
    fault: faults[i % faults.length],
    durationMinutes: 20,
    schedule: { expression: 'cron(0 10 ? * TUE *)', timezone: 'Europe/Paris', flexibleWindowMinutes: 30 },
  }));

describe('settings in SSM parameters, with 100 chaos experiments', () => {
  let resources: Record<string, Resource>;
  /** The chaos experiments' nested stack. */
  let experimentResources: Record<string, Resource>;
  /** The function of that agent: its logical id starts with the construct path (e.g. NotificationsNotify). */
  const agent = (name: string): Resource | undefined =>
    Object.entries(resources).find(
      ([id, r]) =>
        r.Type === 'AWS::Lambda::Function' &&
        new RegExp(`^[A-Za-z]*${name[0]?.toUpperCase()}${name.slice(1)}Function[0-9A-F]{8}$`).test(id),
    )?.[1];
  /** Statements of the policies attached to that agent's role. */
  const statementsOf = (name: string): Statement[] => {
    const role = (agent(name)?.Properties.Role as { 'Fn::GetAtt': [string] } | undefined)?.['Fn::GetAtt'][0];
    return Object.values(resources)
      .filter(
        (r) =>
          r.Type === 'AWS::IAM::Policy' &&
          (r.Properties.Roles as { Ref: string }[]).some((ref) => ref.Ref === role),
      )
      .flatMap((r) => (r.Properties.PolicyDocument as { Statement: Statement[] }).Statement);
  };

  beforeAll(() => {
    const app = testApp({
      'homeostat:chaos': { experiments: manyExperiments(100), guardrails: { maxConcurrent: 2 } },
      'homeostat:remediation': { defaultAutonomy: 'auto' },
      'homeostat:learning': { recurrenceCount: 4 },
      'homeostat:mcp': true,
    });
    const stack = new HomeostatStack(app, 'Many', {
      settings: readSettings(app.node),
      env: { account: '111122223333', region: 'eu-west-1' },
    });
    resources = Template.fromStack(stack).toJSON().Resources;
    experimentResources = Template.fromStack(
      stack.chaos.node.findChild('Experiments') as NestedStack,
    ).toJSON().Resources;
  }, 180_000);

  it('finds every agent', () => {
    for (const a of ['plan', 'act', 'verify', 'approve', 'learn', 'notify', 'chaos'])
      expect(agent(a), a).toBeDefined();
  });

  it("keeps every function's environment under Lambda's 4 KB", () => {
    const functions = Object.entries(resources).filter(([, r]) => r.Type === 'AWS::Lambda::Function');
    expect(functions.length).toBeGreaterThanOrEqual(10);
    for (const [id, r] of functions) {
      const bytes = environmentBytes(variablesOf(r));
      expect(bytes, `${id}: ${bytes} bytes of environment`).toBeLessThan(lambdaEnvironmentLimit);
    }
    // The chaos agent's does not grow with the experiments: names and a path (tokens counted at 200 bytes).
    expect(environmentBytes(variablesOf(agent('chaos')))).toBeLessThan(1536);
  });

  it('fits the stack in CloudFormation’s 500 resources', () => {
    expect(Object.keys(resources).length).toBeLessThan(500);
  });

  it('writes one parameter per experiment (in a nested stack) plus the chaos settings, holding the validated JSON', () => {
    const chaos = Object.values({ ...resources, ...experimentResources })
      .filter((r) => r.Type === 'AWS::SSM::Parameter')
      .map((r) => r.Properties as { Name: string; Value: unknown; Tier?: string; Type: string })
      .filter((p) => p.Name.startsWith('/homeostat/homeostat/chaos/'));
    expect(chaos).toHaveLength(101);
    for (const p of chaos) expect(p).toMatchObject({ Type: 'String', Tier: 'Standard' });
    const byName = Object.fromEntries(chaos.map((p) => [p.Name, p.Value]));
    expect(JSON.parse(byName['/homeostat/homeostat/chaos/settings'] as string)).toMatchObject({
      guardrails: { maxConcurrent: 2 },
      revert: { maxAttempts: 5 },
    });
    const first = JSON.parse(
      byName['/homeostat/homeostat/chaos/experiments/experiment-000-stop-tasks'] as string,
    );
    expect(chaosConfigSchema.parse({ experiments: [first] }).experiments[0]).toEqual(first);
    // A FIS experiment's parameter names its template, resolved at deploy (handed to the nested stack).
    expect(JSON.stringify(byName['/homeostat/homeostat/chaos/experiments/experiment-004-fis'])).toMatch(
      /fisTemplateId.*Ref.*ChaosFis/,
    );
    expect(Object.values(experimentResources).every((r) => r.Type === 'AWS::SSM::Parameter')).toBe(true);
  });

  it('gives the chaos agent its parameter path only, and read access to that path only', () => {
    const variables = variablesOf(agent('chaos'));
    expect(variables.HOMEOSTAT_CHAOS_PARAMETERS_PATH).toBe('/homeostat/homeostat/chaos');
    expect(Object.keys(variables).filter((k) => /HOMEOSTAT_(CHAOS|FIS_TEMPLATES)$/.test(k))).toEqual([]);
    const read = statementsOf('chaos').find((s) => s.Sid === 'ReadChaosParameters');
    expect(JSON.stringify(read?.Resource)).toContain(':parameter/homeostat/homeostat/chaos"');
    expect(JSON.stringify(read?.Resource)).toContain(':parameter/homeostat/homeostat/chaos/*"');
    expect(JSON.stringify(read?.Resource)).not.toMatch(/parameter\/\*|parameter\/homeostat\/\*/);
  });

  it('writes the remediation and learning settings once each, and names them to exactly the agents that read them', () => {
    const parameters = Object.values(resources).filter((r) => r.Type === 'AWS::SSM::Parameter');
    const named = (name: string) => parameters.filter((p) => p.Properties.Name === name);
    expect(named('/homeostat/homeostat/settings/remediation')).toHaveLength(1);
    expect(named('/homeostat/homeostat/settings/learning')).toHaveLength(1);
    expect(
      JSON.parse(named('/homeostat/homeostat/settings/remediation')[0]?.Properties.Value as string),
    ).toMatchObject({ defaultAutonomy: 'auto', maxBlastShare: 0.5 });
    expect(
      JSON.parse(named('/homeostat/homeostat/settings/learning')[0]?.Properties.Value as string),
    ).toMatchObject({ recurrenceCount: 4 });
    const readers = (variable: string) =>
      ['plan', 'act', 'verify', 'approve', 'learn', 'notify', 'chaos'].filter(
        (a) => variable in variablesOf(agent(a)),
      );
    expect(readers('HOMEOSTAT_REMEDIATION_PARAMETER')).toEqual(['plan', 'act', 'verify', 'learn']);
    expect(readers('HOMEOSTAT_LEARNING_PARAMETER')).toEqual(['learn', 'notify']);
    expect(readers('HOMEOSTAT_REMEDIATION')).toEqual([]);
    expect(readers('HOMEOSTAT_LEARNING')).toEqual([]);
    const reads = statementsOf('notify').filter((s) => [s.Action].flat().includes('ssm:GetParameter'));
    expect(JSON.stringify(reads)).toContain('Settingslearning');
    expect(JSON.stringify(reads)).not.toContain('Settingsremediation');
  });
});
