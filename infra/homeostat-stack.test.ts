import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Aspects, type CfnElement } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { localDeployContext } from '../localstack/deploy-local.ts';
import { HomeostatStack } from './lib/homeostat-stack.ts';
import { SampleTargetStack } from './lib/sample-target-stack.ts';
import { readSettings } from './lib/settings.ts';
import { AwsSolutionsChecks } from './nag.ts';
import { testApp } from './testing.ts';

type Statement = { Action: string | string[]; Resource: unknown; Effect: string; Condition?: unknown };

const concreteEnv = { account: '111122223333', region: 'eu-west-1' };

/** `env: 'agnostic'` synthesizes without account or region, as `cdk synth` does without credentials. */
function synth(context: Record<string, unknown> = {}, env: typeof concreteEnv | 'agnostic' = concreteEnv) {
  const app = testApp(context);
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
  // Bundling seven agents on a cold machine (a fresh CI clone, tests running alongside) takes a while.
  beforeAll(() => {
    ({ template, stack } = synth());
  }, 180_000);

  it('creates the homeostat bus with an archive for replay', () => {
    template.hasResourceProperties('AWS::Events::EventBus', { Name: 'homeostat' });
    template.hasResourceProperties('AWS::Events::Archive', { RetentionDays: 30 });
  });

  it('routes alarms and ECS events (default bus), app signals and chaos markers (homeostat bus) and a sweep to perception', () => {
    const rules = Object.entries(template.findResources('AWS::Events::Rule'))
      .filter(([id]) => id.startsWith('Perception'))
      .map(([, rule]) => rule);
    const busId = stack.getLogicalId(stack.bus.bus.node.defaultChild as CfnElement);
    const byPattern = (source: string) =>
      rules.find((r) => JSON.stringify(r.Properties?.EventPattern ?? {}).includes(source));
    expect(byPattern('aws.cloudwatch')?.Properties?.EventPattern).toEqual({
      source: ['aws.cloudwatch'],
      'detail-type': ['CloudWatch Alarm State Change'],
    });
    expect(byPattern('aws.ecs')?.Properties?.EventPattern).toEqual({
      source: ['aws.ecs'],
      'detail-type': ['ECS Task State Change', 'ECS Deployment State Change', 'ECS Service Action'],
    });
    const inputs = byPattern('homeostat.app');
    expect(inputs?.Properties?.EventPattern).toEqual({
      source: ['homeostat.app', 'homeostat.chaos'],
      'detail-type': ['app.signal', 'chaos.injected'],
    });
    expect(inputs?.Properties?.EventBusName).toEqual({ Ref: busId });
    expect(byPattern('aws.cloudwatch')?.Properties?.EventBusName).toBeUndefined();
    const sweep = rules.find((r) => r.Properties?.ScheduleExpression);
    expect(sweep?.Properties?.ScheduleExpression).toBe('rate(1 minute)');
    expect(rules).toHaveLength(4);
    for (const rule of rules) {
      const [target] = (rule.Properties?.Targets ?? []) as Record<string, unknown>[];
      // Inputs go through the perception queue (storms are absorbed and batched); the sweep goes straight in.
      expect(target?.Arn).toEqual({
        'Fn::GetAtt': [
          expect.stringMatching(rule === sweep ? /^PerceptionAgentFunction/ : /^PerceptionQueue/),
          'Arn',
        ],
      });
      expect(target?.DeadLetterConfig).toBeDefined();
      expect(target?.RetryPolicy).toMatchObject({ MaximumRetryAttempts: 8 });
    }
  });

  it('feeds the perception agent from its queue in batches, dead-lettering after three receives', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      EventSourceArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^PerceptionQueue'), 'Arn'] },
      FunctionName: { Ref: Match.stringLikeRegexp('^PerceptionAgentFunction') },
      BatchSize: 25,
      MaximumBatchingWindowInSeconds: 1,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: { MaximumConcurrency: 5 },
    });
    const queues = template.findResources('AWS::SQS::Queue', {
      Properties: { RedrivePolicy: Match.anyValue() },
    });
    const [queue] = Object.entries(queues).filter(([id]) => id.startsWith('PerceptionQueue'));
    expect(queue?.[1].Properties).toMatchObject({
      VisibilityTimeout: 180,
      SqsManagedSseEnabled: true,
      RedrivePolicy: {
        maxReceiveCount: 3,
        deadLetterTargetArn: {
          'Fn::GetAtt': [expect.stringMatching(/^PerceptionAgentDeadLetterQueue/), 'Arn'],
        },
      },
    });
  });

  it('publishes one JSON Schema per detail-type in an EventBridge Schema Registry', () => {
    template.resourceCountIs('AWS::EventSchemas::Registry', 1);
    const schemas = Object.values(template.findResources('AWS::EventSchemas::Schema'));
    expect(schemas.map((s) => s.Properties?.SchemaName).sort()).toEqual(
      [
        'action.executed',
        'approval.requested',
        'chaos.injected',
        'diagnosis.completed',
        'diagnosis.requested',
        'diagnosis.revised',
        'incident.escalated',
        'incident.opened',
        'incident.resolved',
        'incident.updated',
        'learning.recorded',
        'plan.approved',
        'remediation.failed',
        'signal.received',
        'verification.due',
      ].map((t) => `homeostat@${t}`),
    );
    const opened = JSON.parse(
      String(
        schemas.find((s) => s.Properties?.SchemaName === 'homeostat@incident.opened')?.Properties?.Content,
      ),
    );
    expect(opened.properties.data.required).toEqual(
      expect.arrayContaining(['incidentId', 'service', 'fingerprint']),
    );
    expect(opened.properties.type).toMatchObject({ enum: ['incident.opened'] });
  });

  it('runs every agent on nodejs22.x arm64 with tracing, JSON logs and a failure destination', () => {
    const fns = template.findResources('AWS::Lambda::Function', {
      Properties: { Description: Match.stringLikeRegexp('^Homeostat|^Applies Homeostat') },
    });
    expect(Object.keys(fns)).toHaveLength(11);
    for (const fn of Object.values(fns)) {
      expect(fn.Properties).toMatchObject({
        Runtime: 'nodejs22.x',
        Architectures: ['arm64'],
        TracingConfig: { Mode: 'Active' },
        LoggingConfig: { LogFormat: 'JSON' },
        Handler: 'index.handler',
      });
    }
    template.resourceCountIs('AWS::Lambda::EventInvokeConfig', 11);
    const invokeConfigs = Object.values(template.findResources('AWS::Lambda::EventInvokeConfig'));
    for (const c of invokeConfigs)
      expect(c.Properties).toMatchObject({
        DestinationConfig: { OnFailure: { Destination: expect.anything() } },
      });
    // Agents retry a failed event twice; the registry never (CloudFormation waits for its one answer).
    expect(invokeConfigs.map((c) => c.Properties.MaximumRetryAttempts).sort()).toEqual([
      0,
      ...Array(10).fill(2),
    ]);
    template.allResourcesProperties('AWS::Logs::LogGroup', { RetentionInDays: 30 });
  });

  it('gives the perception agent only: describe ECS services, publish on the homeostat bus, read the DB secret', () => {
    const statements = statementsOf(template, 'PerceptionAgentFunction');
    expect(actionsOf(statements)).toEqual(
      new Set([
        'ecs:DescribeServices',
        'cloudwatch:ListTagsForResource',
        'events:PutEvents',
        'secretsmanager:GetSecretValue',
        'secretsmanager:DescribeSecret',
        'sqs:SendMessage',
        'sqs:GetQueueAttributes',
        'sqs:GetQueueUrl',
        'sqs:ReceiveMessage',
        'sqs:ChangeMessageVisibility',
        'sqs:DeleteMessage',
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

  it('asks the diagnosis agent for a new diagnosis only from the plan agent', () => {
    const rules = Object.values(template.findResources('AWS::Events::Rule')).map(
      (r) => r.Properties.EventPattern,
    );
    expect(rules).toContainEqual({ source: ['homeostat.plan'], 'detail-type': ['diagnosis.requested'] });
  });

  it('wires the remediation loop: diagnoses to plan, approved plans to act, verification through a scheduler role', () => {
    const rules = Object.entries(template.findResources('AWS::Events::Rule')).filter(([id]) =>
      id.startsWith('Remediation'),
    );
    const patterns = rules.map(([, r]) => r.Properties.EventPattern);
    expect(patterns).toEqual(
      expect.arrayContaining([
        {
          source: ['homeostat.diagnose', 'homeostat.verify'],
          'detail-type': ['diagnosis.completed', 'diagnosis.revised', 'remediation.failed'],
        },
        { source: ['homeostat.plan', 'homeostat.approve'], 'detail-type': ['plan.approved'] },
      ]),
    );
    template.hasResourceProperties('AWS::SSM::Parameter', { Name: '/homeostat/kill-switch', Value: 'off' });
    template.hasResourceProperties('AWS::Lambda::Url', { AuthType: 'NONE' });
    template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [Match.objectLike({ Principal: { Service: 'scheduler.amazonaws.com' } })],
      },
    });
  });

  it('lets only act and verify change services — tagged homeostat:managed — and no agent approve', () => {
    for (const agent of ['RemediationAct', 'RemediationVerify']) {
      const statements = statementsOf(template, agent);
      const update = statements.find((st) => actionsOf([st]).has('ecs:UpdateService'));
      expect(update?.Condition).toEqual({ StringEquals: { 'aws:ResourceTag/homeostat:managed': 'true' } });
      expect(actionsOf(statements)).toContain('scheduler:CreateSchedule');
      expect(actionsOf(statements)).toContain('ssm:GetParameter'); // the kill switch
    }
    for (const agent of ['RemediationPlan', 'PerceptionAgent', 'DiagnosisAgent'])
      for (const action of actionsOf(statementsOf(template, agent)))
        expect(action).not.toMatch(/^ecs:(Update|Stop|Run|Register)|^scheduler:/);
    // Approvals come from people: no agent's role may invoke the approval function.
    for (const agent of [
      'RemediationPlan',
      'RemediationAct',
      'RemediationVerify',
      'PerceptionAgent',
      'DiagnosisAgent',
    ])
      expect(actionsOf(statementsOf(template, agent))).not.toContain('lambda:InvokeFunction');
  });

  it('sends failed steps and closes to learn, incident events to notify, and lets neither change a service', () => {
    const rules = template.findResources('AWS::Events::Rule');
    const pattern = (prefix: string) =>
      Object.entries(rules).find(([id]) => id.startsWith(prefix))?.[1]?.Properties.EventPattern;
    expect(pattern('LearningTrigger')['detail-type']).toEqual([
      'remediation.failed',
      'incident.resolved',
      'incident.escalated',
    ]);
    expect(pattern('NotificationsIncidentEvents')['detail-type']).toEqual(
      expect.arrayContaining([
        'incident.opened',
        'approval.requested',
        'incident.resolved',
        'learning.recorded',
      ]),
    );
    expect(pattern('NotificationsSelfAlarms')).toEqual({
      source: ['aws.cloudwatch'],
      'detail-type': ['CloudWatch Alarm State Change'],
      detail: { alarmName: [{ prefix: 'homeostat-self-' }] },
    });
    const heartbeat = Object.entries(rules).find(([id]) => id.startsWith('NotificationsHeartbeat'))?.[1];
    expect(heartbeat?.Properties.ScheduleExpression).toBe('rate(5 minutes)');
    for (const agent of ['LearningLearn', 'NotificationsNotify']) {
      for (const action of actionsOf(statementsOf(template, agent)))
        expect(action).not.toMatch(/^ecs:|^scheduler:|^lambda:InvokeFunction|^ssm:Put/);
    }
    expect(actionsOf(statementsOf(template, 'NotificationsNotify'))).toContain('sns:Publish');
    template.hasResourceProperties('AWS::SNS::Topic', { DisplayName: 'Homeostat incidents and self-alarms' });
  });

  it('builds the dashboard and alarms on Homeostat itself that notify the same topic', () => {
    const dashboards = template.findResources('AWS::CloudWatch::Dashboard');
    const body = JSON.stringify(Object.values(dashboards)[0]?.Properties.DashboardBody);
    for (const title of [
      'Incidents opened and closed',
      'Time to resolve (ms)',
      'Actions by outcome',
      'Open incidents and pending approvals',
      'Model tokens and cost',
      'Agent error rate (%)',
      'DLQ depth',
      'Game days (7 days): mean score, share detected, rightly diagnosed, mitigated',
      'Game days: time to detect and to mitigate (ms)',
      'Chaos experiments',
      'Homeostat self-alarms',
    ])
      expect(body).toContain(title);
    for (const metric of [
      'IncidentsClosed',
      'TimeToResolve',
      'ActionOutcomes',
      'PendingApprovals',
      'IncidentCostUsd',
      'GameDayScore',
      'GameDayTimeToDetect',
      'ChaosRefused',
    ])
      expect(body).toContain(metric);
    const alarms = template.findResources('AWS::CloudWatch::Alarm');
    const byName = Object.fromEntries(
      Object.values(alarms).map((a) => [a.Properties.AlarmName, a.Properties]),
    );
    const agents = ['perceive', 'diagnose', 'plan', 'act', 'verify', 'approve', 'learn', 'notify', 'chaos'];
    const selfAlarms = [
      'homeostat-self-kill-switch',
      'homeostat-self-chaos-revert-failed',
      ...agents.map((a) => `homeostat-self-dead-letters-${a}`),
      ...agents.map((a) => `homeostat-self-errors-${a}`),
    ].sort();
    expect(
      Object.keys(byName)
        .filter((n) => n.startsWith('homeostat-self-'))
        .sort(),
    ).toEqual(selfAlarms);
    const topic = Object.keys(template.findResources('AWS::SNS::Topic'))[0];
    for (const name of selfAlarms) expect(byName[name]?.AlarmActions).toEqual([{ Ref: topic }]);
    // One dead-letter alarm per agent's DLQ; the error rate is metric math; the kill switch alarms after an hour of heartbeats.
    expect(byName['homeostat-self-dead-letters-plan']).toMatchObject({
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Threshold: 1,
    });
    expect(byName['homeostat-self-errors-act']?.Metrics).toHaveLength(3);
    expect(byName['homeostat-self-kill-switch']).toMatchObject({ EvaluationPeriods: 12, Threshold: 1 });
    expect(byName['homeostat-self-errors-act']).toMatchObject({ Threshold: 5 });
  });

  it('takes notification settings from context: Slack secret, e-mail, thresholds; refuses bad ones', () => {
    const { template } = synth({
      'homeostat:learning': { narrativeModel: 'us.anthropic.claude-haiku-4-5-20251001-v1:0' },
      'homeostat:notifications': {
        slackSecret: 'homeostat/slack',
        emails: ['oncall@example.com'],
        killSwitchAlarmMinutes: 30,
        heartbeatMinutes: 10,
      },
    });
    template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'oncall@example.com',
    });
    // The narrative model: Converse on that one model only, for the notify agent only.
    const narrative = statementsOf(template, 'NotificationsNotify').filter((st) =>
      actionsOf([st]).has('bedrock:InvokeModel'),
    );
    expect(JSON.stringify(narrative.map((st) => st.Resource))).toContain(
      'inference-profile/us.anthropic.claude-haiku-4-5-20251001-v1:0',
    );
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ HOMEOSTAT_SLACK_SECRET_ARN: Match.anyValue() }) },
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'homeostat-self-kill-switch',
      EvaluationPeriods: 3,
    });
    // Without metric-math alarms (the local emulator), any agent error alarms, by count.
    const local = synth({ 'homeostat:metricMathAlarms': false }).template;
    local.hasResourceProperties('AWS::CloudWatch::Alarm', {
      AlarmName: 'homeostat-self-errors-act',
      MetricName: 'Errors',
      Threshold: 1,
    });
    expect(
      Object.values(local.findResources('AWS::CloudWatch::Alarm')).filter((a) => a.Properties.Metrics),
    ).toEqual([]);
    expect(() => synth({ 'homeostat:notifications': { emails: ['not-an-address'] } })).toThrow(
      /homeostat:notifications: emails/,
    );
  });

  it('refuses invalid remediation settings, naming the field', () => {
    const app = testApp({ 'homeostat:remediation': { defaultAutonomy: 'yolo' } });
    expect(() => readSettings(app.node)).toThrow(/context homeostat:remediation: defaultAutonomy/);
  });

  it('sends new incidents to the diagnosis agent, which may read ECS, metrics, alarms and logs but change nothing', () => {
    const busId = stack.getLogicalId(stack.bus.bus.node.defaultChild as CfnElement);
    const [rule] = Object.entries(template.findResources('AWS::Events::Rule')).filter(([id]) =>
      id.startsWith('Diagnosis'),
    );
    expect(rule?.[1].Properties).toMatchObject({
      EventBusName: { Ref: busId },
      EventPattern: { source: ['homeostat.perceive'], 'detail-type': ['incident.opened'] },
    });
    const [target] = (rule?.[1].Properties.Targets ?? []) as Record<string, unknown>[];
    expect(target?.Arn).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^DiagnosisAgentFunction/), 'Arn'] });
    expect(target?.DeadLetterConfig).toBeDefined();
    const statements = statementsOf(template, 'DiagnosisAgentFunction');
    const actions = actionsOf(statements);
    for (const read of [
      'ecs:DescribeServices',
      'ecs:ListTasks',
      'ecs:DescribeTasks',
      'ecs:DescribeTaskDefinition',
      'cloudwatch:GetMetricData',
      'cloudwatch:DescribeAlarms',
      'logs:FilterLogEvents',
      'events:PutEvents',
    ])
      expect(actions).toContain(read);
    for (const action of actions) expect(action).not.toMatch(/^ecs:(Update|Stop|Run|Register|Delete|Create)/);
    // Bedrock by default: Converse on the two default models (each a global inference profile and
    // its foundation model) and the embedding model (similar incidents, runbooks) — nothing else.
    const invoke = statements.filter((s) => actionsOf([s]).has('bedrock:InvokeModel'));
    const resources = invoke.flatMap((s) => (Array.isArray(s.Resource) ? s.Resource : [s.Resource]));
    // An ARN as a string, pseudo parameters as <Partition>, <Region>, <AccountId>.
    const arn = (r: unknown): string => {
      const join = (r as { 'Fn::Join'?: [string, unknown[]] })['Fn::Join'];
      if (!join) return String(r);
      return join[1]
        .map((p) =>
          typeof p === 'string' ? p : `<${String((p as { Ref: string }).Ref).replace('AWS::', '')}>`,
        )
        .join(join[0]);
    };
    expect(resources.map(arn).sort()).toEqual(
      [
        'arn:<Partition>:bedrock:*::foundation-model/anthropic.claude-haiku-4-5-20251001-v1:0',
        'arn:<Partition>:bedrock:*::foundation-model/anthropic.claude-sonnet-4-5-20250929-v1:0',
        'arn:<Partition>:bedrock:eu-west-1::foundation-model/amazon.titan-embed-text-v2:0',
        'arn:<Partition>:bedrock:eu-west-1:111122223333:inference-profile/global.anthropic.claude-haiku-4-5-20251001-v1:0',
        'arn:<Partition>:bedrock:eu-west-1:111122223333:inference-profile/global.anthropic.claude-sonnet-4-5-20250929-v1:0',
      ].sort(),
    );
    const fn = Object.values(template.findResources('AWS::Lambda::Function')).find((f) =>
      String(f.Properties?.Description).startsWith('Homeostat diagnosis'),
    );
    expect(fn?.Properties?.Timeout).toBe(90);
    expect(fn?.Properties?.Environment?.Variables).toMatchObject({
      HOMEOSTAT_DIAGNOSIS_PROVIDER: 'bedrock',
      HOMEOSTAT_FAST_MODEL: 'global.anthropic.claude-haiku-4-5-20251001-v1:0',
      HOMEOSTAT_STRONG_MODEL: 'global.anthropic.claude-sonnet-4-5-20250929-v1:0',
      HOMEOSTAT_DIAGNOSIS_MAX_STEPS: '8',
      HOMEOSTAT_DIAGNOSIS_MAX_INPUT_TOKENS: '15000',
      HOMEOSTAT_DIAGNOSIS_MAX_OUTPUT_TOKENS: '1500',
      HOMEOSTAT_DIAGNOSIS_TIMEOUT_SECONDS: '60',
    });
    expect(
      Object.keys(JSON.parse(fn?.Properties?.Environment?.Variables?.HOMEOSTAT_MODEL_PRICES)).sort(),
    ).toEqual([
      'global.anthropic.claude-haiku-4-5-20251001-v1:0',
      'global.anthropic.claude-sonnet-4-5-20250929-v1:0',
    ]);
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

describe('chaos', () => {
  const target = { cluster: 'shop', service: 'api' };
  const chaos = {
    experiments: [
      {
        name: 'kill-a-third',
        target,
        fault: { kind: 'stop_tasks' },
        schedule: { expression: 'cron(0 10 ? * TUE *)', timezone: 'Europe/Paris', flexibleWindowMinutes: 15 },
      },
      {
        name: 'bad-release',
        target,
        fault: { kind: 'bad_deployment' },
        schedule: { expression: 'rate(1 day)', enabled: true },
      },
      { name: 'db-down', target, fault: { kind: 'break_dependency', parameterName: '/shop/api/db-url' } },
      {
        name: 'cpu-burn',
        target: { cluster: 'shop', service: 'web' },
        fault: { kind: 'fis', action: 'cpu_stress', percentage: 25, stopAlarms: ['web-5xx'] },
        durationMinutes: 10,
      },
    ],
  };
  let template: Template;
  let stack: HomeostatStack;
  beforeAll(() => {
    ({ template, stack } = synth({ 'homeostat:chaos': chaos }));
  }, 180_000);

  it('turns declared experiments into Scheduler schedules, disabled unless enabled, each with its own firing input', () => {
    const schedules = Object.values(template.findResources('AWS::Scheduler::Schedule')).map(
      (r) => r.Properties,
    );
    expect(schedules).toHaveLength(2);
    const byName = Object.fromEntries(schedules.map((p) => [p.Name, p]));
    expect(byName['Test-chaos-kill-a-third']).toMatchObject({
      ScheduleExpression: 'cron(0 10 ? * TUE *)',
      ScheduleExpressionTimezone: 'Europe/Paris',
      FlexibleTimeWindow: { Mode: 'FLEXIBLE', MaximumWindowInMinutes: 15 },
      State: 'DISABLED',
      Target: { RetryPolicy: { MaximumRetryAttempts: 2 }, DeadLetterConfig: { Arn: expect.anything() } },
    });
    expect(JSON.parse(byName['Test-chaos-kill-a-third']?.Target.Input)).toEqual({
      homeostat: 'chaos.run',
      experiment: 'kill-a-third',
      dryRun: false,
      requestedBy: 'schedule:kill-a-third',
      scheduledTime: '<aws.scheduler.scheduled-time>',
    });
    expect(byName['Test-chaos-bad-release']).toMatchObject({
      State: 'ENABLED',
      FlexibleTimeWindow: { Mode: 'OFF' },
    });
  });

  it('creates a FIS experiment template per FIS experiment, stopped by the configured alarms', () => {
    const templates = Object.values(template.findResources('AWS::FIS::ExperimentTemplate')).map(
      (r) => r.Properties,
    );
    expect(templates).toHaveLength(1);
    expect(templates[0]).toMatchObject({
      StopConditions: [{ Source: 'aws:cloudwatch:alarm', Value: { 'Fn::Join': expect.anything() } }],
      Targets: {
        Tasks: {
          ResourceType: 'aws:ecs:task',
          Parameters: { cluster: 'shop', service: 'web' },
          SelectionMode: 'PERCENT(25)',
        },
      },
      Actions: { Fault: { ActionId: 'aws:ecs:task-cpu-stress', Parameters: { duration: 'PT10M' } } },
    });
    expect(JSON.stringify(templates[0]?.StopConditions)).toContain(':alarm:web-5xx');
  });

  it('lets the chaos agent change only its targets, only while opted in, and schedule only its reverts', () => {
    const statements = statementsOf(template, 'ChaosFunction');
    const update = statements.find((s) => actionsOf([s]).has('ecs:UpdateService'));
    expect(update?.Condition).toEqual({ StringEquals: { 'aws:ResourceTag/homeostat:chaos': 'opt-in' } });
    expect(JSON.stringify(update?.Resource)).toContain(':service/shop/api');
    const stop = statements.find((s) => actionsOf([s]).has('ecs:StopTask'));
    expect(JSON.stringify(stop?.Condition)).toContain(':cluster/shop');
    const parameters = statements.find((s) => actionsOf([s]).has('ssm:PutParameter'));
    expect(JSON.stringify(parameters?.Resource)).toContain(':parameter/shop/api/db-url');
    const schedule = statements.find((s) => actionsOf([s]).has('scheduler:CreateSchedule'));
    expect(JSON.stringify(schedule?.Resource)).toContain('default/homeostat-chaos-revert-*');
    expect(actionsOf(statements).has('fis:StartExperiment')).toBe(true);
    expect(actionsOf(statements).has('ecs:CreateService')).toBe(false);
    const rules = Object.values(template.findResources('AWS::Events::Rule')).map((r) => r.Properties);
    expect(rules).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          ScheduleExpression: 'rate(5 minutes)',
          Description: expect.stringContaining('revert'),
        }),
        expect.objectContaining({
          EventPattern: { source: ['homeostat.learn'], 'detail-type': ['learning.recorded'] },
        }),
      ]),
    );
  });

  it('passes cdk-nag with experiments configured', () => {
    const errors = Annotations.fromStack(stack).findError('*', Match.stringLikeRegexp('AwsSolutions-.*'));
    expect(errors.map((e) => `${e.id}: ${String(e.entry.data).split(':')[0]}`)).toEqual([]);
  });

  it('gives the chaos agent no power to change anything when no experiment is configured', () => {
    const { template: bare } = synth();
    const actions = actionsOf(statementsOf(bare, 'ChaosFunction'));
    for (const a of ['ecs:UpdateService', 'ecs:StopTask', 'ssm:PutParameter', 'ecs:RegisterTaskDefinition'])
      expect(actions.has(a)).toBe(false);
    bare.resourceCountIs('AWS::Scheduler::Schedule', 0);
  });

  it('refuses a bad experiment, naming it', () => {
    const bad = { experiments: [{ name: 'x', target, fault: { kind: 'scale_to' } }] };
    expect(() => readSettings(testApp({ 'homeostat:chaos': bad }).node)).toThrow(
      /context homeostat:chaos: .*desiredCount/,
    );
  });
});

describe('sample target', () => {
  it('deploys a small opted-in Fargate service behind an ALB that Homeostat watches and can run experiments on', () => {
    const app = testApp();
    const sample = new SampleTargetStack(app, 'Sample', { env: concreteEnv });
    const stack = new HomeostatStack(app, 'Test', {
      settings: readSettings(app.node),
      env: concreteEnv,
      sampleTarget: sample.target,
    });
    Aspects.of(app).add(new AwsSolutionsChecks({ verbose: true }));
    app.synth();
    const s = Template.fromStack(sample);
    s.resourceCountIs('AWS::ElasticLoadBalancingV2::LoadBalancer', 1);
    s.resourceCountIs('AWS::EC2::NatGateway', 0);
    const svc = Object.values(s.findResources('AWS::ECS::Service'))[0]?.Properties;
    expect(svc).toMatchObject({
      ServiceName: 'web',
      DesiredCount: 2,
      LaunchType: 'FARGATE',
      PropagateTags: 'SERVICE',
      DeploymentConfiguration: {
        MinimumHealthyPercent: 100,
        DeploymentCircuitBreaker: { Enable: true, Rollback: false },
      },
    });
    expect(svc?.Tags).toEqual(
      expect.arrayContaining([
        { Key: 'homeostat:chaos', Value: 'opt-in' },
        { Key: 'homeostat:managed', Value: 'true' },
      ]),
    );
    const container = Object.values(s.findResources('AWS::ECS::TaskDefinition'))[0]?.Properties
      .ContainerDefinitions[0];
    expect(container.Secrets.map((x: { Name: string }) => x.Name).sort()).toEqual([
      'DEPENDENCY_URL',
      'FAULT',
    ]);
    expect(
      Object.values(s.findResources('AWS::ElasticLoadBalancingV2::TargetGroup'))[0]?.Properties,
    ).toMatchObject({
      HealthCheckPath: '/health',
    });

    const t = Template.fromStack(stack);
    const schedules = Object.values(t.findResources('AWS::Scheduler::Schedule')).map((r) => r.Properties);
    expect(schedules.map((p) => [p.Name, p.State])).toEqual([
      ['Test-chaos-sample-stop-tasks', 'DISABLED'],
      ['Test-chaos-sample-bad-deployment', 'DISABLED'],
      ['Test-chaos-sample-dependency-down', 'DISABLED'],
    ]);
    const update = statementsOf(t, 'ChaosFunction').find((x) => actionsOf([x]).has('ecs:UpdateService'));
    expect(JSON.stringify(update?.Resource)).toContain(':service/homeostat-sample/web');
    // Watched with the standard alarms, on the sample's ALB.
    const alarms = Object.values(t.findResources('AWS::CloudWatch::Alarm')).map(
      (a) => a.Properties.AlarmName,
    );
    expect(
      alarms.filter((n) => String(n).startsWith('homeostat-homeostat-sample-web-')).length,
    ).toBeGreaterThanOrEqual(4);
    for (const st of [sample, stack]) {
      const errors = Annotations.fromStack(st).findError('*', Match.stringLikeRegexp('AwsSolutions-.*'));
      expect(errors.map((e) => `${e.id}: ${String(e.entry.data).split(':')[0]}`)).toEqual([]);
    }
  }, 180_000);
});

describe('knowledge base settings', () => {
  const bedrockStatements = (template: Template, prefix: string) =>
    statementsOf(template, prefix).filter((s) => actionsOf([s]).has('bedrock:InvokeModel'));

  it('lets only the migrator and the learn agent invoke Bedrock, and only the configured embedding model', () => {
    const { template } = synth();
    for (const agent of ['KnowledgeDatabaseMigrator', 'LearningLearn']) {
      const [invoke] = bedrockStatements(template, agent);
      expect(JSON.stringify(invoke?.Resource)).toContain(
        ':bedrock:eu-west-1::foundation-model/amazon.titan-embed-text-v2:0',
      );
    }
    expect(bedrockStatements(template, 'PerceptionAgentFunction')).toEqual([]);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('^Applies Homeostat'),
      Environment: {
        Variables: Match.objectLike({ HOMEOSTAT_EMBEDDING_MODEL: 'amazon.titan-embed-text-v2:0' }),
      },
    });
  });

  it('grants no Bedrock access with the offline embedder', () => {
    const { template } = synth({ 'homeostat:embeddingModel': 'homeostat-hash-v1' });
    expect(bedrockStatements(template, 'KnowledgeDatabaseMigrator')).toEqual([]);
  });

  it('refuses to synth with an invalid user runbook, naming the file and the problem', () => {
    const dir = mkdtempSync(join(tmpdir(), 'runbooks-'));
    writeFileSync(join(dir, 'disk.md'), '---\ncategories: [disk_full]\n---\n# Disk full\n');
    expect(() => synth({ 'homeostat:runbooksDir': dir })).toThrow(
      /disk\.md: "disk_full" is not a root-cause category/,
    );
    const empty = mkdtempSync(join(tmpdir(), 'runbooks-'));
    expect(() => synth({ 'homeostat:runbooksDir': empty })).toThrow(/holds no \.md runbooks/);
  });
});

describe('diagnosis settings', () => {
  it('with Bedrock, lets the diagnosis agent converse with the configured models only, prices and budgets as configured', () => {
    const { template } = synth({
      'homeostat:diagnosis': JSON.stringify({
        provider: 'bedrock',
        fastModel: 'us.anthropic.claude-haiku-4-5-20251001-v1:0',
        strongModel: null,
        maxSteps: 5,
        prices: { 'us.anthropic.claude-haiku-4-5-20251001-v1:0': { inputPer1k: 0.001, outputPer1k: 0.005 } },
      }),
    });
    const invoke = statementsOf(template, 'DiagnosisAgentFunction').filter((s) =>
      actionsOf([s]).has('bedrock:InvokeModel'),
    );
    const resources = JSON.stringify(invoke.map((s) => s.Resource));
    expect(resources).toContain(
      ':bedrock:eu-west-1:111122223333:inference-profile/us.anthropic.claude-haiku-4-5',
    );
    expect(resources).toContain(':bedrock:*::foundation-model/anthropic.claude-haiku-4-5');
    expect(resources).not.toContain('sonnet');
    const fn = Object.values(template.findResources('AWS::Lambda::Function')).find((f) =>
      String(f.Properties?.Description).startsWith('Homeostat diagnosis'),
    );
    const env = fn?.Properties?.Environment?.Variables;
    expect(env).toMatchObject({ HOMEOSTAT_DIAGNOSIS_PROVIDER: 'bedrock', HOMEOSTAT_STRONG_MODEL: '' });
    expect(env.HOMEOSTAT_DIAGNOSIS_MAX_STEPS).toBe('5');
    expect(JSON.parse(env.HOMEOSTAT_MODEL_PRICES)['us.anthropic.claude-haiku-4-5-20251001-v1:0']).toEqual({
      inputPer1k: 0.001,
      outputPer1k: 0.005,
    });
  });

  it('refuses an unknown provider or a bad budget, naming the problem', () => {
    const read = (diagnosis: unknown) =>
      readSettings(testApp({ 'homeostat:diagnosis': JSON.stringify(diagnosis) }).node);
    expect(() => read({ provider: 'openai' })).toThrow(/provider must be "offline" or "bedrock"/);
    expect(() => read({ maxSteps: 0 })).toThrow(/maxSteps must be a positive integer/);
    expect(read({}).diagnosis.provider).toBe('bedrock');
    expect(read({ provider: 'offline' }).diagnosis).toMatchObject({ provider: 'offline', maxSteps: 8 });
  });

  it('stays offline in the local harness: its deploy context asks for the offline rules', () => {
    const context = Object.fromEntries(
      localDeployContext({
        endpoint: 'http://127.0.0.1:4566',
        database: { url: 'postgres://x', wsProxy: 'p' },
      }).map((c) => [c.slice(0, c.indexOf('=')), c.slice(c.indexOf('=') + 1)]),
    );
    expect(readSettings(testApp(context).node).diagnosis.provider).toBe('offline');
  });

  it('grants the diagnosis agent no Converse at all when offline', () => {
    const { template } = synth({ 'homeostat:diagnosis': { provider: 'offline' } });
    const invoke = statementsOf(template, 'DiagnosisAgentFunction').filter((s) =>
      actionsOf([s]).has('bedrock:InvokeModel'),
    );
    expect(JSON.stringify(invoke.map((s) => s.Resource))).not.toContain('anthropic');
    template.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('^Homeostat diagnosis'),
      Environment: { Variables: Match.objectLike({ HOMEOSTAT_DIAGNOSIS_PROVIDER: 'offline' }) },
    });
  }, 180_000);
});

describe('watched services from context', () => {
  it('creates tagged standard alarms and registers the service through the registry, after the migration', () => {
    const { template } = synth({
      'homeostat:watchedServices': JSON.stringify([
        {
          cluster: 'shop',
          service: 'api',
          targetGroup: { targetGroupFullName: 'targetgroup/api/1', loadBalancerFullName: 'app/shop/2' },
          alarmNamePrefixes: ['legacy-api-'],
        },
      ]),
    });
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm')).filter(
      (a) => !String(a.Properties?.AlarmName).startsWith('homeostat-self-'),
    );
    expect(alarms.map((a) => a.Properties?.AlarmName).sort()).toEqual(
      [
        'cpu-high',
        'memory-high',
        'p99-latency',
        'running-below-desired',
        'target-5xx-rate',
        'unhealthy-hosts',
      ].map((n) => `homeostat-shop-api-${n}`),
    );
    for (const alarm of alarms) {
      expect(alarm.Properties?.Tags).toEqual(
        expect.arrayContaining([
          { Key: 'homeostat:cluster', Value: 'shop' },
          { Key: 'homeostat:service', Value: 'api' },
        ]),
      );
    }
    const registrations = template.findResources('Custom::HomeostatWatchedService');
    expect(Object.values(registrations)).toHaveLength(1);
    const [registration] = Object.values(registrations);
    expect(registration?.Properties).toMatchObject({
      cluster: 'shop',
      service: 'api',
      alarmPrefixes: ['homeostat-shop-api-', 'legacy-api-'],
      minTasks: 1,
      maxTasks: 10,
    });
    expect(registration?.Properties?.maintenanceTasks).toBeUndefined();
    // Registered by the registry agent itself (a Lambda-backed custom resource), only once the schema is migrated.
    const [registry] = Object.keys(
      template.findResources('AWS::Lambda::Function', {
        Properties: { Description: Match.stringLikeRegexp('^Homeostat service registry') },
      }),
    );
    expect(registration?.Properties?.ServiceToken).toEqual({ 'Fn::GetAtt': [registry, 'Arn'] });
    const [trigger] = Object.keys(template.findResources('Custom::Trigger'));
    expect(registration?.DependsOn).toEqual(expect.arrayContaining([trigger]));
    // Nothing about services travels in the migrator's environment any more.
    const migrator = Object.values(template.findResources('AWS::Lambda::Function')).find((f) =>
      String(f.Properties?.Description).startsWith('Applies Homeostat'),
    );
    expect(migrator?.Properties?.Environment?.Variables?.HOMEOSTAT_WATCHED_SERVICES).toBeUndefined();
  });

  it('refuses a watched service without a name', () => {
    const app = testApp({ 'homeostat:watchedServices': '[{"cluster":"shop"}]' });
    expect(() => readSettings(app.node)).toThrow(/every entry needs cluster and service/);
  });
});

describe('settings', () => {
  it('wires the local WebSocket proxy and drops the archive when asked', () => {
    const { template } = synth({
      'homeostat:databaseWsProxy': '127.0.0.1:25433',
      'homeostat:archive': 'false',
    });
    template.resourceCountIs('AWS::Events::Archive', 0);
    template.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('^Homeostat perception'),
      Environment: { Variables: Match.objectLike({ DATABASE_WS_PROXY: '127.0.0.1:25433' }) },
    });
  });

  it('applies the configured log retention to every agent', () => {
    const { template } = synth({ 'homeostat:logRetentionDays': 90 });
    template.allResourcesProperties('AWS::Logs::LogGroup', { RetentionInDays: 90 });
  });

  it('refuses a nonsensical log retention', () => {
    for (const value of ['forever', 31]) {
      const app = testApp({ 'homeostat:logRetentionDays': value });
      expect(() => readSettings(app.node)).toThrow(
        /homeostat:logRetentionDays must be a CloudWatch Logs retention/,
      );
    }
  });
});
