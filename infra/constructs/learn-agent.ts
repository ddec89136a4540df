import { Duration } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { LearningConfig } from '../../shared/config/learning.ts';
import type { RemediationConfig } from '../../shared/config/remediation.ts';
import { detailTypes } from '../../shared/events/detail-types.ts';
import { AgentFunction } from './agent-function.ts';
import { agentSources, type HomeostatBus } from './homeostat-bus.ts';
import type { KnowledgeDatabase } from './knowledge-database.ts';
import { readSettingsParameter } from './settings-parameter.ts';

export interface LearnAgentProps {
  readonly bus: HomeostatBus;
  readonly database: KnowledgeDatabase;
  readonly settings: LearningConfig;
  /** The learn agent reads the default autonomy from it. */
  readonly remediation: RemediationConfig;
  readonly logRetention?: logs.RetentionDays;
}

/** What the learn agent answers: a failed step (its outcome at once) and every close. */
export const learnTriggerPattern: events.EventPattern = {
  source: [
    'homeostat.perceive',
    'homeostat.diagnose',
    'homeostat.plan',
    'homeostat.act',
    'homeostat.verify',
    'homeostat.approve',
  ],
  detailType: [detailTypes.remediationFailed, detailTypes.incidentResolved, detailTypes.incidentEscalated],
};

/** The learn agent: outcomes, incident summaries with embeddings, the graph, recurrence, earned autonomy. */
export class LearnAgent extends Construct {
  readonly agent: AgentFunction;

  constructor(scope: Construct, id: string, props: LearnAgentProps) {
    super(scope, id);
    this.agent = new AgentFunction(this, 'Learn', {
      agent: 'learn',
      description: 'Homeostat learn: outcomes, summaries, similar incidents, recurrence, earned autonomy',
      timeout: Duration.minutes(1),
      logRetention: props.logRetention,
      environment: {
        HOMEOSTAT_BUS_NAME: props.bus.bus.eventBusName,
      },
    });
    readSettingsParameter(this, this.agent, props.bus, 'learning', props.settings);
    readSettingsParameter(this, this.agent, props.bus, 'remediation', props.remediation);
    this.agent.deadLetterOwnRejections();
    props.database.connect(this.agent.function);
    props.database.allowEmbedding(this.agent.function);
    props.bus.grantPublish(this.agent.role, [agentSources.learn]);
    new events.Rule(this, 'Trigger', {
      description: 'Failed steps and closed incidents to the Homeostat learn agent',
      eventBus: props.bus.bus,
      eventPattern: learnTriggerPattern,
      targets: [
        new targets.LambdaFunction(this.agent.function, {
          deadLetterQueue: this.agent.deadLetterQueue,
          retryAttempts: 4,
          maxEventAge: Duration.hours(6),
        }),
      ],
    });
  }
}
