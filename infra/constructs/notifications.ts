import { Duration, Stack } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as ssm from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import type { LearningConfig, NotificationConfig } from '../../shared/config/learning.ts';
import { detailTypes } from '../../shared/events/detail-types.ts';
import { AgentFunction } from './agent-function.ts';
import { bedrockModelArns } from './bedrock-models.ts';
import type { HomeostatBus } from './homeostat-bus.ts';
import type { KnowledgeDatabase } from './knowledge-database.ts';
import { readSettingsParameter } from './settings-parameter.ts';

export interface NotificationsProps {
  readonly bus: HomeostatBus;
  readonly database: KnowledgeDatabase;
  readonly settings: NotificationConfig;
  readonly killSwitch: ssm.IStringParameter;
  /** The learning settings: the notify agent reads `narrativeModel` from them. */
  readonly learning: LearningConfig;
  readonly logRetention?: logs.RetentionDays;
}

/** Homeostat's own alarms are named with this prefix; their state changes go to the notify agent. */
export const selfAlarmPrefix = 'homeostat-self-';

/** Incident events the notify agent narrates. */
export const notifyTriggerPattern: events.EventPattern = {
  detailType: [
    detailTypes.incidentOpened,
    detailTypes.diagnosisCompleted,
    detailTypes.approvalRequested,
    detailTypes.actionExecuted,
    detailTypes.remediationFailed,
    detailTypes.incidentResolved,
    detailTypes.incidentEscalated,
    detailTypes.learningRecorded,
  ],
};

/**
 * The notify agent and its channels: an SNS topic (e-mail subscriptions from
 * settings; the self-alarms publish to it too) and Slack from an existing
 * secret; a heartbeat rule for the dashboard's gauges; and the self-alarms'
 * state changes routed to the agent so they reach Slack as well.
 */
export class Notifications extends Construct {
  readonly agent: AgentFunction;
  readonly topic: sns.Topic;

  constructor(scope: Construct, id: string, props: NotificationsProps) {
    super(scope, id);
    this.topic = new sns.Topic(this, 'Topic', {
      displayName: 'Homeostat incidents and self-alarms',
      enforceSSL: true,
    });
    for (const email of props.settings.emails)
      this.topic.addSubscription(new subscriptions.EmailSubscription(email));

    this.agent = new AgentFunction(this, 'Notify', {
      agent: 'notify',
      description:
        'Homeostat notify: one narrative per incident to Slack and SNS; heartbeat gauges; self-alarms',
      timeout: Duration.minutes(1),
      logRetention: props.logRetention,
      environment: {
        HOMEOSTAT_BUS_NAME: props.bus.bus.eventBusName,
        HOMEOSTAT_NOTIFY_TOPIC_ARN: this.topic.topicArn,
        HOMEOSTAT_KILL_SWITCH_PARAMETER: props.killSwitch.parameterName,
      },
    });
    readSettingsParameter(this, this.agent, props.bus, 'learning', props.learning);
    const fn = this.agent.function;
    this.agent.deadLetterOwnRejections();
    props.database.connect(fn);
    this.topic.grantPublish(fn);
    props.killSwitch.grantRead(fn);
    if (props.settings.slackSecret) {
      const secret = props.settings.slackSecret.startsWith('arn:')
        ? secretsmanager.Secret.fromSecretCompleteArn(this, 'SlackSecret', props.settings.slackSecret)
        : secretsmanager.Secret.fromSecretNameV2(this, 'SlackSecret', props.settings.slackSecret);
      fn.addEnvironment('HOMEOSTAT_SLACK_SECRET_ARN', secret.secretArn);
      secret.grantRead(fn);
    }

    const model = props.learning.narrativeModel;
    if (model) {
      this.agent.allow(
        new iam.PolicyStatement({
          sid: 'NarrateWithConfiguredModel',
          actions: ['bedrock:InvokeModel'],
          resources: bedrockModelArns(Stack.of(this), model),
        }),
        'The one narrative model; an inference profile routes to its model in any of its regions.',
      );
    }

    const target = new targets.LambdaFunction(fn, {
      deadLetterQueue: this.agent.deadLetterQueue,
      retryAttempts: 4,
      maxEventAge: Duration.hours(1),
    });
    new events.Rule(this, 'IncidentEvents', {
      description: 'Incident events to the Homeostat notify agent',
      eventBus: props.bus.bus,
      eventPattern: notifyTriggerPattern,
      targets: [target],
    });
    new events.Rule(this, 'SelfAlarms', {
      description: "Homeostat's own alarms to the notify agent (Slack)",
      eventPattern: {
        source: ['aws.cloudwatch'],
        detailType: ['CloudWatch Alarm State Change'],
        detail: { alarmName: [{ prefix: selfAlarmPrefix }] },
      },
      targets: [target],
    });
    new events.Rule(this, 'Heartbeat', {
      description: 'Homeostat heartbeat: open incidents, pending approvals and the kill switch as metrics',
      schedule: events.Schedule.rate(Duration.minutes(props.settings.heartbeatMinutes)),
      targets: [target],
    });
  }
}
