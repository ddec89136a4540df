import { ArnFormat, Duration, Stack } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { detailTypes } from '../../shared/events/detail-types.ts';
import type { DiagnosisSettings } from '../lib/settings.ts';
import { AgentFunction } from './agent-function.ts';
import { bedrockModelArns } from './bedrock-models.ts';
import { agentSources, type HomeostatBus } from './homeostat-bus.ts';
import type { KnowledgeDatabase } from './knowledge-database.ts';

export interface DiagnosisAgentProps {
  readonly bus: HomeostatBus;
  readonly database: KnowledgeDatabase;
  readonly settings: DiagnosisSettings;
  /** @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
}

/** New incidents, as the perception agent announces them. */
export const incidentOpenedPattern: events.EventPattern = {
  source: ['homeostat.perceive'],
  detailType: [detailTypes.incidentOpened],
};

/** The plan agent asking for a new diagnosis before the next step (new fault evidence). */
export const diagnosisRequestedPattern: events.EventPattern = {
  source: ['homeostat.plan'],
  detailType: [detailTypes.diagnosisRequested],
};

/**
 * The diagnosis agent: incident.opened → evidence (ECS, CloudWatch metrics and
 * logs, signals, knowledge) → a diagnosis from the offline rules or Bedrock →
 * diagnosis.completed. Read-only on AWS: it describes and reads, it never
 * changes a service. Bedrock access only when the provider is Bedrock, and
 * only for the configured models.
 */
export class DiagnosisAgent extends Construct {
  readonly agent: AgentFunction;
  readonly rule: events.Rule;

  constructor(scope: Construct, id: string, props: DiagnosisAgentProps) {
    super(scope, id);
    const s = props.settings;
    this.agent = new AgentFunction(this, 'Agent', {
      agent: 'diagnose',
      description: 'Homeostat diagnosis: evidence and cited hypotheses for new incidents',
      // The model's wall-clock budget plus evidence gathering and the writes.
      timeout: Duration.seconds(s.timeoutSeconds + 30),
      logRetention: props.logRetention,
      environment: {
        HOMEOSTAT_BUS_NAME: props.bus.bus.eventBusName,
        HOMEOSTAT_DIAGNOSIS_PROVIDER: s.provider,
        HOMEOSTAT_FAST_MODEL: s.fastModel,
        HOMEOSTAT_STRONG_MODEL: s.strongModel ?? '',
        HOMEOSTAT_MODEL_PRICES: JSON.stringify(s.prices),
        HOMEOSTAT_DIAGNOSIS_MAX_STEPS: String(s.maxSteps),
        HOMEOSTAT_DIAGNOSIS_MAX_INPUT_TOKENS: String(s.maxInputTokens),
        HOMEOSTAT_DIAGNOSIS_MAX_OUTPUT_TOKENS: String(s.maxOutputTokens),
        HOMEOSTAT_DIAGNOSIS_TIMEOUT_SECONDS: String(s.timeoutSeconds),
      },
    });
    const fn = this.agent.function;
    const deadLetters = this.agent.deadLetterQueue;
    this.agent.deadLetterOwnRejections();
    props.database.connect(fn);
    props.database.allowEmbedding(fn);
    props.bus.grantPublish(this.agent.role, [agentSources.diagnose]);

    const stack = Stack.of(this);
    const unknownUntilIncident =
      'Read-only: the watched services, their tasks, alarms and log groups are known only when an incident opens.';
    this.agent.allow(
      new iam.PolicyStatement({
        sid: 'ReadEcsServicesAndTasks',
        actions: ['ecs:DescribeServices', 'ecs:ListTasks', 'ecs:DescribeTasks'],
        resources: [
          stack.formatArn({ service: 'ecs', resource: 'service', resourceName: '*' }),
          stack.formatArn({ service: 'ecs', resource: 'task', resourceName: '*' }),
          stack.formatArn({ service: 'ecs', resource: 'container-instance', resourceName: '*' }),
        ],
      }),
      unknownUntilIncident,
    );
    this.agent.allow(
      new iam.PolicyStatement({
        sid: 'ReadTaskDefinitionsAndMetricData',
        actions: ['ecs:DescribeTaskDefinition', 'cloudwatch:GetMetricData'],
        resources: ['*'],
      }),
      'read-only; neither supports resource-level permissions.',
    );
    this.agent.allow(
      new iam.PolicyStatement({
        sid: 'ReadAlarms',
        actions: ['cloudwatch:DescribeAlarms'],
        resources: [
          stack.formatArn({
            service: 'cloudwatch',
            resource: 'alarm',
            resourceName: '*',
            arnFormat: ArnFormat.COLON_RESOURCE_NAME,
          }),
        ],
      }),
      unknownUntilIncident,
    );
    this.agent.allow(
      new iam.PolicyStatement({
        sid: 'ReadServiceLogs',
        actions: ['logs:FilterLogEvents'],
        resources: [
          stack.formatArn({
            service: 'logs',
            resource: 'log-group',
            resourceName: '*',
            arnFormat: ArnFormat.COLON_RESOURCE_NAME,
          }),
        ],
      }),
      unknownUntilIncident,
    );
    if (s.provider === 'bedrock') {
      const models = [s.fastModel, ...(s.strongModel ? [s.strongModel] : [])];
      this.agent.allow(
        new iam.PolicyStatement({
          sid: 'ConverseWithConfiguredModels',
          actions: ['bedrock:InvokeModel'],
          resources: models.flatMap((model) => bedrockModelArns(stack, model)),
        }),
        'The configured models only; an inference profile routes to its model in any of its regions.',
      );
    }

    const target = () =>
      new targets.LambdaFunction(fn, {
        deadLetterQueue: deadLetters,
        retryAttempts: 4,
        maxEventAge: Duration.hours(1),
      });
    this.rule = new events.Rule(this, 'IncidentOpened', {
      description: 'New incidents to the Homeostat diagnosis agent',
      eventBus: props.bus.bus,
      eventPattern: incidentOpenedPattern,
      targets: [target()],
    });
    new events.Rule(this, 'DiagnosisRequested', {
      description: 'Live incidents with new fault evidence to the Homeostat diagnosis agent',
      eventBus: props.bus.bus,
      eventPattern: diagnosisRequestedPattern,
      targets: [target()],
    });
  }
}
