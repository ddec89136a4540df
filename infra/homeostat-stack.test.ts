import { App, Aspects, type CfnElement } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { HomeostatStack } from './lib/homeostat-stack.ts';
import { readSettings } from './lib/settings.ts';
import { AwsSolutionsChecks } from './nag.ts';

type Statement = { Action: string | string[]; Resource: unknown; Effect: string };

const concreteEnv = { account: '111122223333', region: 'eu-west-1' };

/** `env: 'agnostic'` synthesizes without account or region, as `cdk synth` does without credentials. */
function synth(context: Record<string, unknown> = {}, env: typeof concreteEnv | 'agnostic' = concreteEnv) {
  const app = new App({ context });
  const stack = new HomeostatStack(app, 'Test', {
    settings: readSettings(app.node),
    env: env === 'agnostic' ? undefined : env,
  });
  Aspects.of(app).add(new AwsSolutionsChecks({ verbose: true }));
  app.synth();
  return { stack, template: Template.fromStack(stack) };
}

/** All statements of the policies attached to the role of the function whose logical id starts with `prefix`. */
function statementsOf(template: Template, prefix: string): Statement[] {
  const fns = template.findResources('AWS::Lambda::Function');
  const fnId = Object.keys(fns).find((id) => id.startsWith(prefix));
  if (!fnId) throw new Error(`no function ${prefix}`);
  const role = fns[fnId]?.Properties?.Role as { 'Fn::GetAtt': [string, string] } | undefined;
  const roleRef = role?.['Fn::GetAtt'][0];
  const policies = template.findResources('AWS::IAM::Policy');
  return Object.values(policies)
    .filter((p) => (p.Properties.Roles as { Ref: string }[]).some((r) => r.Ref === roleRef))
    .flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[]);
}

const actionsOf = (statements: Statement[]) =>
  new Set(statements.flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action])));

describe('HomeostatStack', () => {
  let template: Template;
  let stack: HomeostatStack;
  beforeAll(() => {
    ({ template, stack } = synth());
  });

  it('creates the homeostat bus with an archive for replay', () => {
    template.hasResourceProperties('AWS::Events::EventBus', { Name: 'homeostat' });
    template.hasResourceProperties('AWS::Events::Archive', { RetentionDays: 30 });
  });

  it('routes CloudWatch alarm state changes on the default bus to the perception agent, with a DLQ', () => {
    const rules = template.findResources('AWS::Events::Rule');
    const [rule] = Object.values(rules);
    expect(Object.keys(rules)).toHaveLength(1);
    expect(rule?.Properties.EventBusName).toBeUndefined();
    expect(rule?.Properties.EventPattern).toEqual({
      source: ['aws.cloudwatch'],
      'detail-type': ['CloudWatch Alarm State Change'],
    });
    const [target] = (rule?.Properties?.Targets ?? []) as Record<string, unknown>[];
    expect(target?.Arn).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^PerceptionAgentFunction/), 'Arn'] });
    expect(target?.DeadLetterConfig).toBeDefined();
    expect(target?.RetryPolicy).toMatchObject({ MaximumRetryAttempts: 8 });
  });

  it('runs every agent on nodejs22.x arm64 with tracing, JSON logs and a failure destination', () => {
    const fns = template.findResources('AWS::Lambda::Function', {
      Properties: { Description: Match.stringLikeRegexp('^Homeostat|^Applies Homeostat') },
    });
    expect(Object.keys(fns)).toHaveLength(2);
    for (const fn of Object.values(fns)) {
      expect(fn.Properties).toMatchObject({
        Runtime: 'nodejs22.x',
        Architectures: ['arm64'],
        TracingConfig: { Mode: 'Active' },
        LoggingConfig: { LogFormat: 'JSON' },
        Handler: 'index.handler',
      });
    }
    template.resourceCountIs('AWS::Lambda::EventInvokeConfig', 2);
    template.allResourcesProperties('AWS::Lambda::EventInvokeConfig', {
      MaximumRetryAttempts: 2,
      DestinationConfig: { OnFailure: { Destination: Match.anyValue() } },
    });
    template.allResourcesProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
  });

  it('gives the perception agent only: describe ECS services, publish on the homeostat bus, read the DB secret', () => {
    const statements = statementsOf(template, 'PerceptionAgentFunction');
    expect(actionsOf(statements)).toEqual(
      new Set([
        'ecs:DescribeServices',
        'events:PutEvents',
        'secretsmanager:GetSecretValue',
        'secretsmanager:DescribeSecret',
        'sqs:SendMessage',
        'sqs:GetQueueAttributes',
        'sqs:GetQueueUrl',
        'xray:PutTraceSegments',
        'xray:PutTelemetryRecords',
      ]),
    );
    const putEvents = statements.find((s) => s.Action === 'events:PutEvents');
    const busId = stack.getLogicalId(stack.bus.bus.node.defaultChild as CfnElement);
    expect(putEvents?.Resource).toEqual({ 'Fn::GetAtt': [busId, 'Arn'] });
    const describe = statements.find((s) => s.Action === 'ecs:DescribeServices');
    expect(JSON.stringify(describe?.Resource)).toContain(':ecs:eu-west-1:111122223333:service/*');
    const secret = statements.find((s) => actionsOf([s]).has('secretsmanager:GetSecretValue'));
    expect(JSON.stringify(secret?.Resource)).toContain('secret:homeostat/database-url-??????');
  });

  it('points agents at the database secret and runs the migrator on deploy before the agents', () => {
    template.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('^Homeostat perception'),
      Environment: {
        Variables: Match.objectLike({
          DATABASE_URL_SECRET_ID: 'homeostat/database-url',
          HOMEOSTAT_BUS_NAME: Match.anyValue(),
        }),
      },
    });
    const triggers = template.findResources('Custom::Trigger');
    expect(Object.keys(triggers)).toHaveLength(1);
    const perception = Object.entries(template.findResources('AWS::Lambda::Function')).find(([id]) =>
      id.startsWith('PerceptionAgentFunction'),
    );
    expect(perception?.[1].DependsOn).toEqual(expect.arrayContaining([Object.keys(triggers)[0]]));
  });

  it('passes the cdk-nag AwsSolutions checks (every suppression carries a reason)', () => {
    const errors = Annotations.fromStack(stack).findError('*', Match.stringLikeRegexp('AwsSolutions-.*'));
    expect(errors.map((e) => `${e.id}: ${String(e.entry.data).split(':')[0]}`)).toEqual([]);
  });

  it('passes cdk-nag for an environment-agnostic synth too (no account or region, as `cdk synth` without credentials)', () => {
    const agnostic = synth({}, 'agnostic').stack;
    const errors = Annotations.fromStack(agnostic).findError('*', Match.stringLikeRegexp('AwsSolutions-.*'));
    expect(errors.map((e) => `${e.id}: ${String(e.entry.data).split('[')[1]?.split(']')[0]}`)).toEqual([]);
  });
});

describe('settings', () => {
  it('wires the local WebSocket proxy and drops the archive when asked', () => {
    const { template } = synth({
      'homeostat:databaseWsProxy': '127.0.0.1:54330',
      'homeostat:archive': 'false',
    });
    template.resourceCountIs('AWS::Events::Archive', 0);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('^Homeostat perception'),
      Environment: { Variables: Match.objectLike({ DATABASE_WS_PROXY: '127.0.0.1:54330' }) },
    });
  });

  it('refuses a nonsensical log retention', () => {
    const app = new App({ context: { 'homeostat:logRetentionDays': 'forever' } });
    expect(() => readSettings(app.node)).toThrow(/homeostat:logRetentionDays/);
  });
});
