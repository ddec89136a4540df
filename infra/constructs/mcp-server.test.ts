import { Aspects } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { HomeostatStack } from '../lib/homeostat-stack.ts';
import { readSettings } from '../lib/settings.ts';
import { AwsSolutionsChecks } from '../nag.ts';
import { testApp } from '../testing.ts';

type Statement = { Action: string | string[]; Resource: unknown; Effect: string };

function synth(context: Record<string, unknown>) {
  const app = testApp(context);
  const stack = new HomeostatStack(app, 'Test', {
    settings: readSettings(app.node),
    env: { account: '111122223333', region: 'eu-west-1' },
  });
  Aspects.of(app).add(new AwsSolutionsChecks({ verbose: true }));
  app.synth();
  return { stack, template: Template.fromStack(stack) };
}

/**
 * The MCP function as `cdk deploy -c homeostat:mcp=true` creates it: off by
 * default; behind an IAM-authorised Function URL; a role that reads, may write
 * the kill switch, and can neither publish on the bus, change a service, nor
 * invoke the approval function.
 */
describe('the MCP server deployment', () => {
  let on: ReturnType<typeof synth>;
  beforeAll(() => {
    on = synth({ 'homeostat:mcp': true });
  }, 300_000);

  it('is off by default', () => {
    const off = synth({});
    expect(off.stack.mcp).toBeUndefined();
    expect(
      Object.keys(off.template.findResources('AWS::Lambda::Url')).filter((id) => id.startsWith('Mcp')),
    ).toEqual([]);
    expect(Object.keys(off.template.toJSON().Outputs)).not.toContain('McpUrl');
  }, 300_000);

  it('serves behind a Function URL with AWS_IAM auth', () => {
    const { stack, template } = on;
    const fnId = stack.getLogicalId(stack.mcp?.agent.function.node.defaultChild as never);
    const killSwitchId = stack.getLogicalId(stack.remediation.killSwitch.node.defaultChild as never);
    template.hasResourceProperties('AWS::Lambda::Url', {
      AuthType: 'AWS_IAM',
      TargetFunctionArn: { 'Fn::GetAtt': [fnId, 'Arn'] },
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          DATABASE_URL_SECRET_ID: Match.anyValue(),
          HOMEOSTAT_KILL_SWITCH_PARAMETER: { Ref: killSwitchId },
          HOMEOSTAT_REMEDIATION: Match.anyValue(),
        }),
      },
      ReservedConcurrentExecutions: 5,
    });
    expect(Object.keys(template.toJSON().Outputs)).toEqual(
      expect.arrayContaining(['McpUrl', 'McpFunctionName']),
    );
  });

  it('reads, may write the kill switch, and can publish, change or approve nothing', () => {
    const { stack, template } = on;
    const roleId = stack.getLogicalId(stack.mcp?.agent.role.node.defaultChild as never);
    const statements = Object.values(template.findResources('AWS::IAM::Policy'))
      .filter((p) => (p.Properties.Roles as { Ref: string }[]).some((r) => r.Ref === roleId))
      .flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[]);
    const actions = statements.flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]));
    expect(actions).toEqual(expect.arrayContaining(['ecs:DescribeServices', 'ssm:PutParameter']));
    for (const forbidden of [/^events:/, /^ecs:(Update|Stop|Run|Register)/, /^lambda:/, /^iam:PassRole/])
      expect(
        actions.filter((a) => forbidden.test(a)),
        String(forbidden),
      ).toEqual([]);
    const put = statements.filter((s) => [s.Action].flat().includes('ssm:PutParameter'));
    const killSwitchId = stack.getLogicalId(stack.remediation.killSwitch.node.defaultChild as never);
    expect(JSON.stringify(put.map((s) => s.Resource))).toContain(`{"Ref":"${killSwitchId}"}`);
    expect(JSON.stringify(put.map((s) => s.Resource))).not.toContain('"*"');
  });

  it('passes cdk-nag AwsSolutions', () => {
    const errors = Annotations.fromStack(on.stack)
      .findError('*', Match.stringLikeRegexp('AwsSolutions-.*'))
      .filter((e) => e.id.includes('/Mcp/'));
    expect(errors.map((e) => `${e.id}: ${e.entry.data}`)).toEqual([]);
  });
});
