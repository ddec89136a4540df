import { Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { ChaosAgent } from '../constructs/chaos-agent.ts';
import type { DiagnosisAgent } from '../constructs/diagnosis-agent.ts';
import type { EventSchemas } from '../constructs/event-schemas.ts';
import type { HomeostatBus } from '../constructs/homeostat-bus.ts';
import type { KnowledgeDatabase } from '../constructs/knowledge-database.ts';
import type { LearnAgent } from '../constructs/learn-agent.ts';
import type { McpServer } from '../constructs/mcp-server.ts';
import type { Notifications } from '../constructs/notifications.ts';
import type { OperationsDashboard } from '../constructs/operations-dashboard.ts';
import type { PerceptionAgent } from '../constructs/perception-agent.ts';
import type { RemediationAgents } from '../constructs/remediation-agents.ts';
import type { ServiceRegistry } from '../constructs/service-registry.ts';
import type { WatchedService } from '../constructs/watched-service.ts';
import { Homeostat, type HomeostatProps } from './homeostat.ts';
import type { HomeostatSettings } from './settings.ts';

export interface HomeostatStackProps extends StackProps, HomeostatProps {
  readonly settings: HomeostatSettings;
}

/**
 * The Homeostat stack of this repository's app (`cdk deploy`): one Homeostat
 * construct, under the id `Default` so its logical ids are the stack's own.
 */
export class HomeostatStack extends Stack {
  readonly homeostat: Homeostat;
  readonly bus: HomeostatBus;
  readonly database: KnowledgeDatabase;
  readonly perception: PerceptionAgent;
  readonly diagnosis: DiagnosisAgent;
  readonly remediation: RemediationAgents;
  readonly learn: LearnAgent;
  readonly notifications: Notifications;
  readonly chaos: ChaosAgent;
  readonly operations: OperationsDashboard;
  readonly watched: WatchedService[];
  readonly registry: ServiceRegistry;
  readonly schemas: EventSchemas | undefined;
  readonly mcp: McpServer | undefined;

  constructor(scope: Construct, id: string, props: HomeostatStackProps) {
    super(scope, id, props);
    const h = new Homeostat(this, 'Default', { settings: props.settings, sampleTarget: props.sampleTarget });
    this.homeostat = h;
    this.bus = h.bus;
    this.database = h.database;
    this.perception = h.perception;
    this.diagnosis = h.diagnosis;
    this.remediation = h.remediation;
    this.learn = h.learn;
    this.notifications = h.notifications;
    this.chaos = h.chaos;
    this.operations = h.operations;
    this.watched = h.watched;
    this.registry = h.registry;
    this.schemas = h.schemas;
    this.mcp = h.mcp;
  }
}
