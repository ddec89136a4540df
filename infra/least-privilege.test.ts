/**
 * Least privilege, enforced on the synthesized templates (issue 18):
 * no identity policy allows a mutating action on every resource without a
 * condition; the ECS powers of act, verify and chaos are scoped to what is
 * declared; every agent publishes only its own event source, and the bus
 * itself refuses the rest; the public approval URL has reserved concurrency;
 * cdk-nag suppressions name exact findings and every action they hide.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Aspects, type CfnElement } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { maxMemoryMiB } from '../shared/domain/actions.ts';
import { actSource } from '../shared/usecases/act.ts';
import { approveSource } from '../shared/usecases/approve.ts';
import { chaosSource } from '../shared/usecases/chaos.ts';
import { learnSource } from '../shared/usecases/learn.ts';
import { planSource } from '../shared/usecases/plan.ts';
import { verifySource } from '../shared/usecases/verify.ts';
import { projectRoot } from './bundling.ts';
import { HomeostatStack } from './lib/homeostat-stack.ts';
import { SampleTargetStack } from './lib/sample-target-stack.ts';
import { readSettings } from './lib/settings.ts';
import { AwsSolutionsChecks } from './nag.ts';
import { testApp } from './testing.ts';

type Statement = {
  Sid?: string;
  Effect: string;
  Action?: string | string[];
  NotAction?: unknown;
  Resource?: unknown;
  NotResource?: unknown;
  Condition?: Record<string, Record<string, unknown>>;
  Principal?: unknown;
};
// biome-ignore lint/suspicious/noExplicitAny: CloudFormation JSON
type Json = any;
type Resource = { Type: string; Properties?: Record<string, Json>; Metadata?: Record<string, Json> };

/**
 * Which actions only read, by the verb their name starts with (after `service:`).
 * Everything else (Put, Create, Update, Delete, Run, Stop, Register, Tag, Pass,
 * Send, Invoke, Start, Rotate, …, and a bare `*`) counts as mutating.
 */
const readOnlyVerbs = [
  'Describe',
  'Get',
  'List',
  'BatchGet',
  'Filter',
  'Lookup',
  'Query',
  'Search',
  'Scan',
  'Select',
  'View',
] as const;

const verbOf = (action: string) => action.slice(action.indexOf(':') + 1);
const isReadOnly = (action: string) =>
  action.includes(':') && readOnlyVerbs.some((verb) => verbOf(action).startsWith(verb));

/**
 * Mutating actions AWS lets no policy scope: the Service Authorization Reference
 * defines neither a resource type nor a condition key for them, so `*` without a
 * condition is the only way to allow them. Nothing else may be unscoped.
 */
const unscopable: Record<string, string> = {
  'xray:PutTraceSegments': 'Lambda active tracing; X-Ray defines no resource type or condition key for it',
  'xray:PutTelemetryRecords': 'Lambda active tracing; X-Ray defines no resource type or condition key for it',
  'ecs:DeregisterTaskDefinition':
    'the chaos agent retires the broken revision it registered; ECS defines no resource type or condition key for it',
};

const list = <T>(value: T | T[] | undefined): T[] =>
  value === undefined ? [] : Array.isArray(value) ? value : [value];
const actionsOf = (s: Statement) => list(s.Action);

/** Every identity-policy statement of a template: managed and inline policies, and roles' inline policies. */
function identityStatements(template: Template): { policy: string; statement: Statement }[] {
  const resources = template.toJSON().Resources as Record<string, Resource>;
  return Object.entries(resources).flatMap(([id, r]) => {
    const docs =
      r.Type === 'AWS::IAM::Policy' || r.Type === 'AWS::IAM::ManagedPolicy'
        ? [r.Properties?.PolicyDocument]
        : ['AWS::IAM::Role', 'AWS::IAM::User', 'AWS::IAM::Group'].includes(r.Type)
          ? (r.Properties?.Policies ?? []).map((p: { PolicyDocument: unknown }) => p.PolicyDocument)
          : [];
    return docs.flatMap((doc: { Statement?: Statement[] } | undefined) =>
      (doc?.Statement ?? []).map((statement) => ({ policy: id, statement })),
    );
  });
}

/** Allow statements granting a mutating action on `*` with no condition (allow-listed unscopable actions aside). */
function unscopedMutations(template: Template): string[] {
  return identityStatements(template).flatMap(({ policy, statement: s }) => {
    if (s.Effect !== 'Allow') return [];
    if (s.NotAction !== undefined || s.NotResource !== undefined)
      return [`${policy} ${s.Sid ?? ''}: NotAction/NotResource`];
    const everything = list(s.Resource).includes('*');
    const conditioned = s.Condition !== undefined && Object.keys(s.Condition).length > 0;
    if (!everything || conditioned) return [];
    const bad = actionsOf(s).filter((a) => !isReadOnly(a) && !(a in unscopable));
    return bad.length > 0 ? [`${policy} ${s.Sid ?? ''}: ${bad.join(', ')} on * without a condition`] : [];
  });
}

const concreteEnv = { account: '111122223333', region: 'eu-west-1' };

/** Every branch that adds permissions: maintenance tasks and task roles, every chaos fault, Bedrock, Slack. */
const fullContext = {
  'homeostat:watchedServices': [
    {
      cluster: 'shop',
      service: 'api',
      maintenanceTasks: ['api-migrate', 'api-cache-clear:4'],
      taskRoles: ['arn:aws:iam::111122223333:role/api-task', 'api-execution'],
    },
    { cluster: 'batch', service: 'worker' },
  ],
  'homeostat:chaos': {
    experiments: [
      { name: 'kill', target: { cluster: 'shop', service: 'api' }, fault: { kind: 'stop_tasks' } },
      { name: 'bad', target: { cluster: 'shop', service: 'api' }, fault: { kind: 'bad_deployment' } },
      {
        name: 'db-down',
        target: { cluster: 'shop', service: 'api' },
        fault: { kind: 'break_dependency', parameterName: '/shop/api/db-url' },
      },
      {
        name: 'cpu',
        target: { cluster: 'shop', service: 'api' },
        fault: { kind: 'fis', action: 'cpu_stress', percentage: 25, stopAlarms: ['api-5xx'] },
        durationMinutes: 10,
      },
    ],
  },
  'homeostat:diagnosis': { provider: 'bedrock', fastModel: 'us.anthropic.claude-haiku-4-5-20251001-v1:0' },
  'homeostat:learning': { narrativeModel: 'us.anthropic.claude-haiku-4-5-20251001-v1:0' },
  'homeostat:notifications': { slackSecret: 'homeostat/slack' },
};

/** cdk.json's context (feature flags such as @aws-cdk/aws-iam:minimizePolicies), as `cdk synth` applies it. */
const cdkJson = JSON.parse(readFileSync(join(projectRoot, 'cdk.json'), 'utf8')).context as Record<
  string,
  unknown
>;

function synth(context: Record<string, unknown>, env: typeof concreteEnv | undefined = concreteEnv) {
  const app = testApp({ ...cdkJson, ...context });
  const stack = new HomeostatStack(app, 'Test', { settings: readSettings(app.node), env });
  Aspects.of(app).add(new AwsSolutionsChecks({ verbose: true }));
  app.synth();
  return { stack, template: Template.fromStack(stack) };
}

/** The statements of the role of the function whose logical id starts with `prefix`. */
function statementsOf(template: Template, prefix: string): Statement[] {
  const roleRef = roleOf(template, prefix);
  return Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((p) => (p.Properties.Roles as { Ref: string }[]).some((r) => r.Ref === roleRef))
    .flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[]);
}
/** The logical id of the role of the function whose logical id starts with `prefix`. */
function roleOf(template: Template, prefix: string): string {
  const fns = template.findResources('AWS::Lambda::Function');
  const fnId = Object.keys(fns).find((id) => id.startsWith(prefix));
  const role = fns[fnId ?? '']?.Properties?.Role as { 'Fn::GetAtt': [string, string] } | undefined;
  if (!role) throw new Error(`no function ${prefix}`);
  return role['Fn::GetAtt'][0];
}
const granting = (statements: Statement[], action: string) =>
  statements.filter((s) => s.Effect === 'Allow' && actionsOf(s).includes(action));
const text = (value: unknown) => JSON.stringify(value);

/** The agents that publish, by function logical-id prefix, and the source each one's code publishes. */
const sourceInCode = (file: string) => {
  const found = /const source = '([^']+)'/.exec(readFileSync(join(projectRoot, file), 'utf8'))?.[1];
  if (!found) throw new Error(`no source constant in ${file}`);
  return found;
};
const publishers = {
  PerceptionAgentFunction: sourceInCode('shared/usecases/perceive.ts'),
  DiagnosisAgentFunction: sourceInCode('shared/usecases/diagnose.ts'),
  RemediationPlanFunction: planSource,
  RemediationActFunction: actSource,
  RemediationVerifyFunction: verifySource,
  RemediationApproveFunction: approveSource,
  LearningLearnFunction: learnSource,
  ChaosFunction: chaosSource,
} as const;
/**
 * The verify agent also relays, once a minute, every agent's events left
 * unpublished in the outbox (shared/adapters/outbox-relay.ts), so it may
 * publish all of their sources; every other agent only its own.
 */
const allowedSources = (prefix: keyof typeof publishers) =>
  prefix === 'RemediationVerifyFunction' ? Object.values(publishers).sort() : publishers[prefix];
/** A condition's `events:source`, sorted when it lists several. */
const sources = (condition: Record<string, unknown> | undefined) => {
  const value = condition?.['events:source'];
  return Array.isArray(value) ? [...value].sort() : value;
};

describe('least privilege', () => {
  let full: { stack: HomeostatStack; template: Template };
  let bare: { stack: HomeostatStack; template: Template };
  beforeAll(() => {
    full = synth(fullContext);
    bare = synth({});
  }, 300_000);

  it('classifies actions by verb: Describe/Get/List… read, everything else mutates', () => {
    expect(isReadOnly('ecs:DescribeTaskDefinition')).toBe(true);
    expect(isReadOnly('logs:FilterLogEvents')).toBe(true);
    expect(isReadOnly('cloudwatch:GetMetricData')).toBe(true);
    for (const a of ['ecs:RunTask', 'ecs:TagResource', 'iam:PassRole', 'events:PutEvents', 'ecs:*', '*'])
      expect(isReadOnly(a)).toBe(false);
  });

  it('allows no mutating action on Resource "*" without a condition, in any synth', () => {
    expect(unscopedMutations(full.template)).toEqual([]);
    expect(unscopedMutations(bare.template)).toEqual([]);
    // The unscopable actions stand alone in their statements: nothing rides along.
    for (const { statement } of identityStatements(full.template)) {
      const actions = actionsOf(statement);
      if (actions.some((a) => a in unscopable)) expect(actions.every((a) => a in unscopable)).toBe(true);
    }
  });

  it('lets act run only the declared maintenance task definitions, in their service’s cluster', () => {
    const act = statementsOf(full.template, 'RemediationActFunction');
    const run = granting(act, 'ecs:RunTask');
    expect(run).toHaveLength(1);
    const resources = text(run[0]?.Resource);
    for (const arn of [
      ':task-definition/api-migrate"',
      ':task-definition/api-migrate:*"',
      ':task-definition/api-cache-clear:4"',
    ])
      expect(resources).toContain(arn);
    expect(resources).not.toContain('"*"');
    expect(text(run[0]?.Condition?.ArnEquals?.['ecs:cluster'])).toContain(':cluster/shop"');
    expect(text(run[0]?.Condition)).not.toContain('batch');
    // Nothing declared, nothing to run.
    expect(granting(statementsOf(bare.template, 'RemediationActFunction'), 'ecs:RunTask')).toEqual([]);
  });

  it('registers the declared maintenance tasks, so run_task’s check and IAM agree; refuses malformed declarations', () => {
    const registered = Object.values(full.template.findResources('Custom::HomeostatWatchedService')).map(
      (r) => r.Properties,
    );
    expect(registered[0]).toMatchObject({
      cluster: 'shop',
      maintenanceTasks: ['api-migrate', 'api-cache-clear:4'],
    });
    expect(registered[1].maintenanceTasks).toBeUndefined();
    const read = (entry: unknown) => readSettings(testApp({ 'homeostat:watchedServices': [entry] }).node);
    expect(() => read({ cluster: 'shop', service: 'api', taskRoles: 'api-task' })).toThrow(
      /shop\/api taskRoles must be a list of names or ARNs/,
    );
    expect(() => read({ cluster: 'shop', service: 'api', maintenanceTasks: [''] })).toThrow(
      /maintenanceTasks/,
    );
  });

  it('lets act stop tasks only in the declared clusters (resource and ecs:cluster)', () => {
    const [stop, ...more] = granting(statementsOf(full.template, 'RemediationActFunction'), 'ecs:StopTask');
    expect(more).toEqual([]);
    expect(text(stop?.Resource)).toContain(':task/shop/*');
    expect(text(stop?.Resource)).toContain(':task/batch/*');
    expect(list(stop?.Resource)).not.toContain('*');
    const clusters = text(stop?.Condition?.ArnEquals?.['ecs:cluster']);
    expect(clusters).toContain(':cluster/shop"');
    expect(clusters).toContain(':cluster/batch"');
    expect(granting(statementsOf(bare.template, 'RemediationActFunction'), 'ecs:StopTask')).toEqual([]);
  });

  it('lets act and verify pass only the declared task and execution roles, only to ECS tasks', () => {
    for (const agent of ['RemediationActFunction', 'RemediationVerifyFunction']) {
      const pass = granting(statementsOf(full.template, agent), 'iam:PassRole').filter(
        (s) => !text(s.Resource).includes('SchedulerRole'),
      );
      expect(pass).toHaveLength(1);
      expect(pass[0]?.Condition).toEqual({
        StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' },
      });
      const roles = text(pass[0]?.Resource);
      expect(roles).toContain('arn:aws:iam::111122223333:role/api-task');
      expect(roles).toContain(':iam::111122223333:role/api-execution');
      expect(list(pass[0]?.Resource)).not.toContain('*');
      const barePass = granting(statementsOf(bare.template, agent), 'iam:PassRole');
      expect(barePass.every((s) => text(s.Resource).includes('SchedulerRole'))).toBe(true);
    }
  });

  it('lets act register revisions only within the catalog’s memory bound and without privileged containers', () => {
    const [register, ...more] = granting(
      statementsOf(full.template, 'RemediationActFunction'),
      'ecs:RegisterTaskDefinition',
    );
    expect(more).toEqual([]);
    expect(list(register?.Resource)).not.toContain('*');
    expect(register?.Condition).toMatchObject({
      NumericLessThanEquals: { 'ecs:task-memory': String(maxMemoryMiB) },
      StringEqualsIfExists: { 'ecs:privileged': 'false' },
    });
  });

  it('gives verify only what an undo needs: no tasks run or stopped, no revision registered, no secret rotated', () => {
    const verify = statementsOf(full.template, 'RemediationVerifyFunction');
    const actions = new Set(verify.flatMap(actionsOf));
    for (const a of [
      'ecs:RunTask',
      'ecs:StopTask',
      'ecs:RegisterTaskDefinition',
      'ecs:TagResource',
      'secretsmanager:RotateSecret',
    ])
      expect(actions.has(a)).toBe(false);
    const [update] = granting(verify, 'ecs:UpdateService');
    expect(update?.Condition).toEqual({ StringEquals: { 'aws:ResourceTag/homeostat:managed': 'true' } });
    expect(granting(verify, 'ssm:PutParameter')[0]?.Condition).toEqual({
      StringEquals: { 'aws:ResourceTag/homeostat:managed': 'true' },
    });
  });

  it('lets chaos tag only what it creates (ecs:CreateAction), and register only tagged revisions', () => {
    const chaos = statementsOf(full.template, 'ChaosFunction');
    const tag = granting(chaos, 'ecs:TagResource');
    expect(tag.length).toBeGreaterThan(0);
    for (const s of tag)
      expect(s.Condition?.StringEquals?.['ecs:CreateAction']).toEqual('RegisterTaskDefinition');
    const [register] = granting(chaos, 'ecs:RegisterTaskDefinition');
    expect(register?.Condition).toMatchObject({
      Null: { 'aws:RequestTag/homeostat:chaos-experiment': 'false' },
    });
    const pass = granting(chaos, 'iam:PassRole').filter((s) => !text(s.Resource).includes('SchedulerRole'));
    expect(text(pass.map((s) => s.Resource))).toContain('role/api-task');
    expect(pass.flatMap((s) => list(s.Resource))).not.toContain('*');
  });

  it('lets each agent publish only its own event source', () => {
    for (const prefix of Object.keys(publishers) as (keyof typeof publishers)[]) {
      const put = granting(statementsOf(full.template, prefix), 'events:PutEvents');
      expect(put, prefix).toHaveLength(1);
      expect(Object.keys(put[0]?.Condition ?? {}), prefix).toEqual(['StringEquals']);
      expect(sources(put[0]?.Condition?.StringEquals), prefix).toEqual(allowedSources(prefix));
      expect(list(put[0]?.Condition?.StringEquals?.['events:source'])).not.toContain('homeostat.app');
    }
    for (const quiet of ['NotificationsNotifyFunction', 'KnowledgeDatabaseMigratorFunction'])
      expect(granting(statementsOf(full.template, quiet), 'events:PutEvents')).toEqual([]);
  });

  it('makes the bus refuse any other source from an agent, and anything but homeostat.app from anyone else', () => {
    const { stack, template } = full;
    const busId = stack.getLogicalId(stack.bus.bus.node.defaultChild as CfnElement);
    const policy = template.toJSON().Resources[busId].Properties.Policy as { Statement: Statement[] };
    const denies = policy.Statement.filter((s) => s.Effect === 'Deny');
    expect(policy.Statement.every((s) => s.Effect === 'Deny')).toBe(true);
    const roles = Object.keys(publishers).map((p) => roleOf(template, p));
    const others = denies.find((s) => s.Condition?.ArnNotEquals);
    expect(others).toMatchObject({
      Principal: '*',
      Action: 'events:PutEvents',
      Condition: {
        StringNotEquals: { 'events:source': 'homeostat.app' },
        Bool: { 'aws:PrincipalIsAWSService': 'false' },
      },
    });
    expect(
      list(others?.Condition?.ArnNotEquals?.['aws:PrincipalArn']).map(
        (r) => (r as { 'Fn::GetAtt': string[] })['Fn::GetAtt'][0],
      ),
    ).toEqual(expect.arrayContaining(roles));
    for (const prefix of Object.keys(publishers) as (keyof typeof publishers)[]) {
      const role = text({ 'Fn::GetAtt': [roleOf(template, prefix), 'Arn'] });
      const own = denies.find((s) => text(s.Condition?.ArnEquals?.['aws:PrincipalArn']) === role);
      expect(sources(own?.Condition?.StringNotEquals), prefix).toEqual(allowedSources(prefix));
    }
  });

  it('reserves concurrency for the approval function behind the public Function URL', () => {
    full.template.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('^Homeostat approvals'),
      ReservedConcurrentExecutions: Match.anyValue(),
    });
    const approve = Object.values(full.template.findResources('AWS::Lambda::Function')).find((f) =>
      String(f.Properties?.Description).startsWith('Homeostat approvals'),
    );
    expect(approve?.Properties?.ReservedConcurrentExecutions).toBeGreaterThan(0);
    expect(approve?.Properties?.ReservedConcurrentExecutions).toBeLessThanOrEqual(10);
  });
});

/** A resource as cdk-nag's findings name it: `Ref` as `<Name>`, `Fn::GetAtt` as `<Id.Attr>`, joins concatenated. */
function flatten(node: unknown): string {
  if (typeof node === 'string') return node;
  const n = node as Record<string, Json>;
  if (n['Fn::Join']) return (n['Fn::Join'][1] as unknown[]).map(flatten).join(n['Fn::Join'][0]);
  if (n['Fn::GetAtt']) return `<${n['Fn::GetAtt'][0]}.${n['Fn::GetAtt'][1]}>`;
  if (n.Ref) return `<${n.Ref}>`;
  return JSON.stringify(node);
}

/** The cdk-nag suppressions of a resource (decoded: cdk-nag base64-encodes reasons with non-Latin-1 characters). */
type Suppression = { id: string; reason: string; applies_to?: (string | { regex: string })[] };
function suppressionsOf(r: { Metadata?: Record<string, Json> }): Suppression[] {
  return (
    (r.Metadata?.cdk_nag?.rules_to_suppress ?? []) as (Suppression & { is_reason_encoded?: boolean })[]
  ).map((s) => (s.is_reason_encoded ? { ...s, reason: Buffer.from(s.reason, 'base64').toString() } : s));
}

describe('cdk-nag suppressions', () => {
  const templates: { name: string; template: Template; stack: HomeostatStack | SampleTargetStack }[] = [];
  beforeAll(() => {
    const concrete = synth(fullContext);
    const agnostic = synth(fullContext, undefined);
    const app = testApp({ 'homeostat:sampleTarget': true });
    const sample = new SampleTargetStack(app, 'Sample', { env: concreteEnv });
    const withSample = new HomeostatStack(app, 'WithSample', {
      settings: readSettings(app.node),
      env: concreteEnv,
      sampleTarget: sample.target,
    });
    Aspects.of(app).add(new AwsSolutionsChecks({ verbose: true }));
    app.synth();
    templates.push(
      { name: 'concrete', ...concrete },
      { name: 'agnostic', ...agnostic },
      { name: 'sample', stack: sample, template: Template.fromStack(sample) },
      { name: 'with sample', stack: withSample, template: Template.fromStack(withSample) },
    );
  }, 300_000);

  it('pass AwsSolutions in every synth', () => {
    for (const { name, stack } of templates) {
      const errors = Annotations.fromStack(stack).findError('*', Match.stringLikeRegexp('AwsSolutions-.*'));
      expect(
        errors.map((e) => `${e.id}: ${String(e.entry.data).split(':')[0]}`),
        name,
      ).toEqual([]);
    }
  });

  it('never suppress AwsSolutions-IAM5 by pattern or wholesale: each names exact findings', () => {
    for (const { name, template } of templates) {
      const json = template.toJSON();
      const all = [
        ...Object.entries(json.Resources as Record<string, Resource>).map(([id, r]) => ({
          id,
          suppressions: suppressionsOf(r),
        })),
        { id: 'stack', suppressions: suppressionsOf({ Metadata: json.Metadata }) },
      ];
      for (const { id, suppressions } of all)
        for (const s of suppressions.filter((x) => x.id === 'AwsSolutions-IAM5')) {
          expect(s.applies_to, `${name} ${id}`).toBeDefined();
          for (const finding of s.applies_to ?? []) expect(typeof finding, `${name} ${id}`).toBe('string');
        }
    }
  });

  it('suppress only findings that exist, on the policy that has them', () => {
    for (const { name, template } of templates) {
      const resources = template.toJSON().Resources as Record<string, Resource>;
      const statements = identityStatements(template);
      for (const [id, r] of Object.entries(resources)) {
        const suppressed = suppressionsOf(r)
          .filter((s) => s.id === 'AwsSolutions-IAM5')
          .flatMap((s) => s.applies_to ?? []);
        if (suppressed.length === 0) continue;
        const findings = new Set(
          statements
            .filter(({ policy, statement }) => policy === id && statement.Effect === 'Allow')
            .flatMap(({ statement }) => [
              ...actionsOf(statement)
                .filter((a) => a.includes('*'))
                .map((a) => `Action::${a}`),
              ...list(statement.Resource)
                .map(flatten)
                .filter((f) => f.includes('*'))
                .map((f) => `Resource::${f}`),
            ]),
        );
        for (const finding of suppressed) expect([...findings], `${name} ${id}`).toContain(finding);
      }
    }
  });

  it('name, in the reason, every action a Resource::* suppression hides (the X-Ray one hides only X-Ray)', () => {
    for (const { name, template } of templates) {
      const resources = template.toJSON().Resources as Record<string, Resource>;
      const policies = Object.entries(resources).filter(
        ([, r]) =>
          ['AWS::IAM::Policy', 'AWS::IAM::ManagedPolicy'].includes(r.Type) ||
          (r.Properties?.Policies ?? []).length > 0,
      );
      for (const [id, r] of policies) {
        const star = suppressionsOf(r).filter(
          (s) => s.id === 'AwsSolutions-IAM5' && (s.applies_to ?? []).includes('Resource::*'),
        );
        if (star.length === 0) continue;
        const hidden = identityStatements(template)
          .filter(({ policy, statement }) => policy === id && statement.Effect === 'Allow')
          .filter(({ statement }) => list(statement.Resource).includes('*'))
          .flatMap(({ statement }) => actionsOf(statement));
        expect(hidden.length, `${name} ${id}`).toBeGreaterThan(0);
        const reasons = star.map((s) => s.reason).join(' ');
        for (const action of hidden) expect(reasons, `${name} ${id} hides ${action}`).toContain(action);
      }
    }
  });
});
