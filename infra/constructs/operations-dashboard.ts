import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import type { NotificationConfig } from '../../shared/config/learning.ts';
import { diagnosisMetrics } from '../../shared/observability/metrics.ts';
import type { AgentFunction } from './agent-function.ts';
import { selfAlarmPrefix } from './notifications.ts';

export interface OperationsDashboardProps {
  /** Every agent, by name: errors, invocations and dead-letter queue depth. */
  readonly agents: Record<string, AgentFunction>;
  readonly topic: sns.ITopic;
  readonly settings: NotificationConfig;
  /** @default 'Homeostat' */
  readonly dashboardName?: string;
  /** Error-rate alarms on metric math; false: alarm on any error (for emulators without math alarms). @default true */
  readonly metricMathAlarms?: boolean;
}

const namespace = 'Homeostat';
const cap = (name: string) => `${name[0]?.toUpperCase()}${name.slice(1)}`;
const hour = Duration.hours(1);

/** A metric an agent emits (Powertools EMF: namespace Homeostat, dimension service=homeostat-<agent>). */
const agentMetric = (
  agent: string,
  metricName: string,
  statistic: string,
  extra: Record<string, string> = {},
  label?: string,
) =>
  new cloudwatch.Metric({
    namespace,
    metricName,
    statistic,
    period: hour,
    dimensionsMap: { service: `homeostat-${agent}`, ...extra },
    ...(label ? { label } : {}),
  });

/**
 * The CloudWatch dashboard of the loop — incidents opened and closed, time to
 * resolve, actions by outcome, pending approvals, tokens and cost, agent
 * errors and DLQ depth — and alarms on Homeostat itself (a DLQ not empty,
 * the agents' error rate, the kill switch left engaged) that notify the
 * same SNS topic (and, through the notify agent, Slack).
 */
export class OperationsDashboard extends Construct {
  readonly dashboard: cloudwatch.Dashboard;
  readonly alarms: cloudwatch.Alarm[];

  constructor(scope: Construct, id: string, props: OperationsDashboardProps) {
    super(scope, id);
    const agents = Object.entries(props.agents);
    const ids = (prefix: string) => agents.map((_, i) => `${prefix}${i}`);

    const dlqDepth = new cloudwatch.MathExpression({
      label: 'Messages in agent DLQs',
      expression: ids('dlq').join(' + '),
      usingMetrics: Object.fromEntries(
        agents.map(([, a], i) => [
          `dlq${i}`,
          a.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
            period: Duration.minutes(5),
            statistic: 'Maximum',
          }),
        ]),
      ),
      period: Duration.minutes(5),
    });
    // One rate per agent: an alarm's math may use at most 10 metrics, and the name says which agent.
    const errorRates = agents.map(
      ([name, a], i) =>
        [
          name,
          new cloudwatch.MathExpression({
            label: name,
            // Ids unique across agents: the error-rate graph shows every expression together.
            expression: `100 * e${i} / MAX([1, n${i}])`,
            usingMetrics: {
              [`e${i}`]: a.function.metricErrors({ period: Duration.minutes(15), statistic: 'Sum' }),
              [`n${i}`]: a.function.metricInvocations({ period: Duration.minutes(15), statistic: 'Sum' }),
            },
            period: Duration.minutes(15),
          }),
        ] as const,
    );
    const killSwitch = agentMetric('notify', 'KillSwitchEngaged', 'Maximum');
    const heartbeat = Duration.minutes(props.settings.heartbeatMinutes);

    const alarm = (
      name: string,
      description: string,
      metric: cloudwatch.IMetric,
      options: Partial<cloudwatch.CreateAlarmOptions> & { threshold: number },
    ) => {
      const a = new cloudwatch.Alarm(this, name, {
        alarmName: `${selfAlarmPrefix}${name.replace(/[A-Z]/g, (c, i) => `${i ? '-' : ''}${c.toLowerCase()}`)}`,
        alarmDescription: description,
        metric,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        ...options,
      });
      a.addAlarmAction(new actions.SnsAction(props.topic));
      a.addOkAction(new actions.SnsAction(props.topic));
      return a;
    };
    this.alarms = [
      ...agents.map(([name, a]) =>
        alarm(
          `DeadLetters${cap(name)}`,
          `The ${name} agent dead-lettered an event: read it, fix the cause, redrive it.`,
          a.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
            period: Duration.minutes(5),
            statistic: 'Maximum',
          }),
          { threshold: 1 },
        ),
      ),
      ...errorRates.map(([name, rate], i) =>
        props.metricMathAlarms === false
          ? alarm(
              `Errors${cap(name)}`,
              `The ${name} agent failed in the last 15 minutes.`,
              (agents[i] as (typeof agents)[number])[1].function.metricErrors({
                period: Duration.minutes(15),
                statistic: 'Sum',
              }),
              { threshold: 1 },
            )
          : alarm(
              `Errors${cap(name)}`,
              `More than ${props.settings.agentErrorRatePercent}% of the ${name} agent's invocations failed over 15 minutes.`,
              rate,
              {
                threshold: props.settings.agentErrorRatePercent,
                comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
              },
            ),
      ),
      alarm(
        'ChaosRevertFailed',
        'A chaos experiment could not be reverted after every retry: put the service back by hand (homeostat chaos list shows what the experiment changed).',
        agentMetric('chaos', 'ChaosRevertFailed', 'Sum').with({ period: Duration.minutes(5) }),
        { threshold: 1 },
      ),
      alarm(
        'KillSwitch',
        `The kill switch has been engaged for ${props.settings.killSwitchAlarmMinutes} minutes: Homeostat is not repairing anything.`,
        killSwitch.with({ period: heartbeat }),
        {
          threshold: 1,
          evaluationPeriods: Math.max(
            1,
            Math.ceil(props.settings.killSwitchAlarmMinutes / props.settings.heartbeatMinutes),
          ),
        },
      ),
    ];

    const closed = (outcome: string) => agentMetric('learn', 'IncidentsClosed', 'Sum', { outcome }, outcome);
    const actionsBy = (result: string) => agentMetric('learn', 'ActionOutcomes', 'Sum', { result }, result);
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: props.dashboardName ?? 'Homeostat',
      defaultInterval: Duration.days(7),
    });
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Incidents opened and closed',
        left: [
          agentMetric('perceive', 'Signals', 'Sum', { outcome: 'opened' }, 'opened'),
          ...['resolved', 'self_resolved', 'escalated', 'failed'].map(closed),
        ],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Time to resolve (ms)',
        left: [
          agentMetric('learn', 'TimeToResolve', 'p50', {}, 'p50'),
          agentMetric('learn', 'TimeToResolve', 'p90', {}, 'p90'),
        ],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Actions by outcome',
        left: ['resolved', 'no_effect', 'worse', 'error'].map(actionsBy),
        stacked: true,
        width: 8,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Open incidents and pending approvals',
        left: [
          agentMetric('notify', 'OpenIncidents', 'Maximum', {}, 'open incidents').with({ period: heartbeat }),
          agentMetric('notify', 'PendingApprovals', 'Maximum', {}, 'pending approvals').with({
            period: heartbeat,
          }),
        ],
        right: [killSwitch.with({ period: heartbeat, label: 'kill switch engaged' })],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Who diagnosed: Bedrock (by model) or the offline rules (by reason)',
        left: [
          new cloudwatch.MathExpression({
            expression: `SEARCH('{${namespace},service,AnsweredBy,Model} MetricName="${diagnosisMetrics.answeredBy}"', 'Sum', 3600)`,
            label: 'bedrock',
            period: hour,
          }),
          new cloudwatch.MathExpression({
            expression: `SEARCH('{${namespace},service,AnsweredBy,Reason} MetricName="${diagnosisMetrics.answeredBy}"', 'Sum', 3600)`,
            label: 'offline',
            period: hour,
          }),
        ],
        stacked: true,
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Model tokens and cost',
        left: [agentMetric('learn', 'IncidentTokens', 'Sum', {}, 'tokens')],
        right: [agentMetric('learn', 'IncidentCostUsd', 'Sum', {}, 'cost (USD)')],
        width: 8,
      }),
      new cloudwatch.SingleValueWidget({
        title: 'Recurring incidents and autonomy recommendations (7 days)',
        metrics: [
          agentMetric('learn', 'RecurringIncidents', 'Sum', {}, 'recurring').with({
            period: Duration.days(7),
          }),
          agentMetric('learn', 'AutonomyRecommendations', 'Sum', {}, 'promotions').with({
            period: Duration.days(7),
          }),
        ],
        width: 8,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Agent error rate (%)',
        left: errorRates.map(([, rate]) => rate),
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Agent errors',
        left: agents.map(([name, a]) =>
          a.function.metricErrors({ period: Duration.minutes(15), label: name }),
        ),
        stacked: true,
        width: 8,
      }),
      new cloudwatch.GraphWidget({ title: 'DLQ depth', left: [dlqDepth], width: 8 }),
      new cloudwatch.GraphWidget({
        title: 'Sweep repairs (wedged work mended)',
        left: (
          [
            ['abandoned_step', 'abandoned steps'],
            ['overdue_check', 'overdue checks'],
            ['stalled_incident', 'stalled incidents'],
            ['approval_expired', 'approvals expired'],
            ['republished', 'events republished'],
          ] as const
        ).map(([kind, label]) => agentMetric('verify', `SweepRepair_${kind}`, 'Sum', {}, label)),
        right: [agentMetric('verify', 'SweepFailures', 'Sum', {}, 'failed repairs')],
        stacked: true,
        width: 8,
      }),
    );
    const week = { period: Duration.days(7) };
    this.dashboard.addWidgets(
      new cloudwatch.SingleValueWidget({
        title: 'Game days (7 days): mean score, share detected, rightly diagnosed, mitigated',
        metrics: [
          agentMetric('chaos', 'GameDayScore', 'Average', {}, 'score (0–100)').with(week),
          agentMetric('chaos', 'GameDayDetected', 'Average', {}, 'detected').with(week),
          agentMetric('chaos', 'GameDayDiagnosisCorrect', 'Average', {}, 'right diagnosis').with(week),
          agentMetric('chaos', 'GameDayMitigated', 'Average', {}, 'mitigated').with(week),
        ],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Game days: time to detect and to mitigate (ms)',
        left: [
          agentMetric('chaos', 'GameDayTimeToDetect', 'p50', {}, 'detect p50'),
          agentMetric('chaos', 'GameDayTimeToMitigate', 'p50', {}, 'mitigate p50'),
        ],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Chaos experiments',
        left: [
          agentMetric('chaos', 'ChaosInjected', 'Sum', {}, 'injected'),
          agentMetric('chaos', 'ChaosRevertNeeded', 'Sum', {}, 'revert needed'),
          agentMetric('chaos', 'ChaosRevertFailed', 'Sum', {}, 'revert failed'),
        ],
        right: [
          'kill_switch',
          'opt_in',
          'window',
          'freeze',
          'concurrency',
          'open_incident',
          'alarm',
          'blast_radius',
        ].map((guard) => agentMetric('chaos', 'ChaosRefused', 'Sum', { guard }, `refused: ${guard}`)),
        width: 8,
      }),
    );
    this.dashboard.addWidgets(
      new cloudwatch.AlarmStatusWidget({ title: 'Homeostat self-alarms', alarms: this.alarms, width: 24 }),
    );
  }
}
