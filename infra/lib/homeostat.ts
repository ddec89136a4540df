import { CfnOutput, NestedStack } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { ChaosAgent } from '../constructs/chaos-agent.ts';
import { DiagnosisAgent } from '../constructs/diagnosis-agent.ts';
import { EventSchemas } from '../constructs/event-schemas.ts';
import { HomeostatBus } from '../constructs/homeostat-bus.ts';
import { KnowledgeDatabase } from '../constructs/knowledge-database.ts';
import { LearnAgent } from '../constructs/learn-agent.ts';
import { McpServer } from '../constructs/mcp-server.ts';
import { Notifications } from '../constructs/notifications.ts';
import { OperationsDashboard } from '../constructs/operations-dashboard.ts';
import { PerceptionAgent } from '../constructs/perception-agent.ts';
import { RemediationAgents } from '../constructs/remediation-agents.ts';
import { registryParameterName, ServiceRegistry } from '../constructs/service-registry.ts';
import {
  declaredInContext,
  WatchedService,
  type WatchedServiceProps,
} from '../constructs/watched-service.ts';
import { type SampleTarget, sampleExperiments } from './sample-target-stack.ts';
import { type HomeostatSettings, readSettings } from './settings.ts';

export interface HomeostatProps {
  /**
   * Deploy-time settings; every field left out comes from CDK context
   * (`homeostat:*`, see settings.ts), then from the defaults. @default all from context
   */
  readonly settings?: Partial<HomeostatSettings>;
  /** The sample target (SampleTargetStack): watched, with its chaos experiments. @default none */
  readonly sampleTarget?: SampleTarget;
}

/**
 * Homeostat: the bus, the knowledge database, the agents, the dashboard — in
 * any stack of your app (HomeostatStack is one stack holding just this).
 * Services are watched with WatchedService, here or in any other stack or app.
 */
export class Homeostat extends Construct {
  readonly bus: HomeostatBus;
  readonly database: KnowledgeDatabase;
  readonly perception: PerceptionAgent;
  readonly diagnosis: DiagnosisAgent;
  readonly remediation: RemediationAgents;
  readonly learn: LearnAgent;
  readonly notifications: Notifications;
  readonly chaos: ChaosAgent;
  readonly operations: OperationsDashboard;
  /** Services declared in context (homeostat:watchedServices) and the sample target. */
  readonly watched: WatchedService[];
  /** Registers every WatchedService, of this app or any other (its token is published in SSM). */
  readonly registry: ServiceRegistry;
  readonly schemas: EventSchemas | undefined;
  /** Homeostat over MCP behind an IAM-authorised Function URL; context `homeostat:mcp` (default off). */
  readonly mcp: McpServer | undefined;

  constructor(scope: Construct, id: string, props: HomeostatProps = {}) {
    super(scope, id);
    const sample = props.sampleTarget;
    const given: HomeostatSettings = { ...readSettings(this.node), ...props.settings };
    const settings = sample
      ? {
          ...given,
          watchedServices: [
            ...given.watchedServices,
            {
              cluster: sample.cluster,
              service: sample.service,
              targetGroup: sample.targetGroup,
              taskRoles: sample.taskRoles,
            },
          ],
          chaos: {
            ...given.chaos,
            experiments: [...given.chaos.experiments, ...sampleExperiments(sample)],
          },
        }
      : given;
    this.bus = new HomeostatBus(this, 'Bus', { busName: settings.busName, archive: settings.archive });
    this.database = new KnowledgeDatabase(this, 'KnowledgeDatabase', {
      databaseUrlSecretName: settings.databaseUrlSecretName,
      ownerDatabaseUrlSecretName: settings.ownerDatabaseUrlSecretName,
      webSocketProxy: settings.databaseWsProxy,
      logRetention: settings.logRetentionDays,
      embeddingModel: settings.embeddingModel,
      runbooksDir: settings.runbooksDir,
    });
    this.registry = new ServiceRegistry(this, 'ServiceRegistry', {
      database: this.database,
      parameterName: registryParameterName(settings.busName),
      busName: settings.busName,
      logRetention: settings.logRetentionDays,
    });
    this.watched = this.watchServices(settings.watchedServices);
    this.schemas = settings.schemaRegistry ? new EventSchemas(this, 'EventSchemas') : undefined;
    this.perception = new PerceptionAgent(this, 'Perception', {
      bus: this.bus,
      database: this.database,
      logRetention: settings.logRetentionDays,
    });
    this.diagnosis = new DiagnosisAgent(this, 'Diagnosis', {
      bus: this.bus,
      database: this.database,
      settings: settings.diagnosis,
      logRetention: settings.logRetentionDays,
    });
    this.remediation = new RemediationAgents(this, 'Remediation', {
      bus: this.bus,
      database: this.database,
      settings: settings.remediation,
      killSwitchParameterName: settings.killSwitchParameterName,
      logRetention: settings.logRetentionDays,
      watchedServices: settings.watchedServices,
    });
    const r = this.remediation;
    this.learn = new LearnAgent(this, 'Learning', {
      bus: this.bus,
      database: this.database,
      settings: settings.learning,
      remediation: settings.remediation,
      logRetention: settings.logRetentionDays,
    });
    this.notifications = new Notifications(this, 'Notifications', {
      bus: this.bus,
      database: this.database,
      settings: settings.notifications,
      killSwitch: r.killSwitch,
      learning: settings.learning,
      logRetention: settings.logRetentionDays,
    });
    this.chaos = new ChaosAgent(this, 'Chaos', {
      bus: this.bus,
      database: this.database,
      config: settings.chaos,
      killSwitch: r.killSwitch,
      logRetention: settings.logRetentionDays,
      watchedServices: settings.watchedServices,
    });
    const agents = {
      perceive: this.perception.agent,
      diagnose: this.diagnosis.agent,
      plan: r.plan,
      act: r.act,
      verify: r.verify,
      approve: r.approve,
      learn: this.learn.agent,
      notify: this.notifications.agent,
      chaos: this.chaos.agent,
    };
    this.operations = new OperationsDashboard(this, 'Operations', {
      agents,
      topic: this.notifications.topic,
      settings: settings.notifications,
      metricMathAlarms: settings.metricMathAlarms,
    });
    // Agents start only on a migrated schema.
    this.database.trigger.executeBefore(...Object.values(agents).map((a) => a.function));
    this.mcp = [true, 'true'].includes(this.node.tryGetContext('homeostat:mcp'))
      ? new McpServer(this, 'Mcp', {
          database: this.database,
          killSwitch: r.killSwitch,
          remediation: settings.remediation,
          logRetention: settings.logRetentionDays,
        })
      : undefined;

    new CfnOutput(this, 'BusName', { key: 'BusName', value: this.bus.bus.eventBusName });
    new CfnOutput(this, 'PerceptionFunctionName', {
      key: 'PerceptionFunctionName',
      value: this.perception.agent.function.functionName,
    });
    new CfnOutput(this, 'PerceptionQueueUrl', {
      key: 'PerceptionQueueUrl',
      value: this.perception.queue.queueUrl,
    });
    new CfnOutput(this, 'PerceptionDeadLetterQueueUrl', {
      key: 'PerceptionDeadLetterQueueUrl',
      value: this.perception.agent.deadLetterQueue.queueUrl,
    });
    new CfnOutput(this, 'DiagnosisFunctionName', {
      key: 'DiagnosisFunctionName',
      value: this.diagnosis.agent.function.functionName,
    });
    new CfnOutput(this, 'DiagnosisDeadLetterQueueUrl', {
      key: 'DiagnosisDeadLetterQueueUrl',
      value: this.diagnosis.agent.deadLetterQueue.queueUrl,
    });
    new CfnOutput(this, 'PlanFunctionName', { key: 'PlanFunctionName', value: r.plan.function.functionName });
    new CfnOutput(this, 'ActFunctionName', { key: 'ActFunctionName', value: r.act.function.functionName });
    new CfnOutput(this, 'VerifyFunctionName', {
      key: 'VerifyFunctionName',
      value: r.verify.function.functionName,
    });
    new CfnOutput(this, 'ApproveFunctionName', {
      key: 'ApproveFunctionName',
      value: r.approve.function.functionName,
    });
    new CfnOutput(this, 'ApprovalUrl', { key: 'ApprovalUrl', value: r.approvalUrl.url });
    new CfnOutput(this, 'KillSwitchParameterName', {
      key: 'KillSwitchParameterName',
      value: r.killSwitch.parameterName,
    });
    new CfnOutput(this, 'LearnFunctionName', {
      key: 'LearnFunctionName',
      value: this.learn.agent.function.functionName,
    });
    new CfnOutput(this, 'NotifyFunctionName', {
      key: 'NotifyFunctionName',
      value: this.notifications.agent.function.functionName,
    });
    new CfnOutput(this, 'NotificationTopicArn', {
      key: 'NotificationTopicArn',
      value: this.notifications.topic.topicArn,
    });
    new CfnOutput(this, 'ChaosFunctionName', {
      key: 'ChaosFunctionName',
      value: this.chaos.agent.function.functionName,
    });
    new CfnOutput(this, 'DashboardName', {
      key: 'DashboardName',
      value: this.operations.dashboard.dashboardName,
    });
    new CfnOutput(this, 'DatabaseUrlSecretName', {
      key: 'DatabaseUrlSecretName',
      value: settings.databaseUrlSecretName,
    });
    new CfnOutput(this, 'ServiceRegistryParameterName', {
      key: 'ServiceRegistryParameterName',
      value: this.registry.parameter.parameterName,
    });
    new CfnOutput(this, 'MigratorFunctionName', {
      key: 'MigratorFunctionName',
      value: this.database.migrator.function.functionName,
    });
    if (this.mcp) {
      new CfnOutput(this, 'McpUrl', { key: 'McpUrl', value: this.mcp.url.url });
      new CfnOutput(this, 'McpFunctionName', {
        key: 'McpFunctionName',
        value: this.mcp.agent.function.functionName,
      });
    }
  }

  /**
   * The services declared in context. Up to `inlineWatchedServices` (30: the most a stack held
   * before, by environment size) stay in this construct, where they always were, so their
   * logical ids and alarms are untouched on upgrade. Past that, every one goes to one of
   * `watchedServiceBuckets` nested stacks chosen by a hash of `cluster/service`, so adding or
   * removing a service never moves another (a moved alarm would be recreated under the same
   * name). At most 7 resources a service (6 alarms and the registration). Every registration
   * waits for the migration.
   */
  private watchServices(declared: readonly WatchedServiceProps[]): WatchedService[] {
    const registration = { homeostat: { registry: this.registry }, [declaredInContext]: true as const };
    const create = (scope: Construct, props: WatchedServiceProps) =>
      new WatchedService(scope, `Watched-${props.cluster}-${props.service}`, { ...props, ...registration });
    if (declared.length <= inlineWatchedServices) {
      const watched = declared.map((props) => create(this, props));
      for (const w of watched) w.registrationResource.node.addDependency(this.database.trigger);
      chainRegistrations(watched);
      return watched;
    }
    const buckets = new Map<number, WatchedServiceProps[]>();
    for (const props of declared) {
      const b = serviceBucket(props.cluster, props.service);
      buckets.set(b, [...(buckets.get(b) ?? []), props]);
    }
    const watched: WatchedService[] = [];
    for (const [b, members] of [...buckets.entries()].sort(([x], [y]) => x - y)) {
      const nested = new NestedStack(this, `WatchedServices${b}`, {
        description: `Homeostat watched services, bucket ${b} of ${watchedServiceBuckets} (context homeostat:watchedServices)`,
      });
      nested.node.addDependency(this.database.trigger);
      const part = members.map((props) => create(nested, props));
      chainRegistrations(part);
      watched.push(...part);
    }
    return watched;
  }
}

/** The nested stack (0 … watchedServiceBuckets - 1) a context service lives in: FNV-1a of `cluster/service`. */
export function serviceBucket(cluster: string, service: string): number {
  let hash = 0x811c9dc5;
  for (const char of `${cluster}/${service}`) {
    hash ^= char.codePointAt(0) ?? 0;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % watchedServiceBuckets;
}

/**
 * Makes each registration wait for the one before it in the same stack, so a stack's
 * registrations reach the database one at a time (each opens a connection: 500 at once would
 * exceed a Neon compute's connection limit, and the local emulator stalls on many concurrent
 * custom resources); nested stacks still deploy side by side, about 60 one-second calls each.
 */
function chainRegistrations(watched: readonly WatchedService[]): void {
  for (const [i, w] of watched.entries()) {
    const before = watched[i - 1];
    if (before) w.registrationResource.node.addDependency(before.registrationResource);
  }
}

/** Up to this many context services stay in the Homeostat stack itself (the most it held before nested stacks). */
export const inlineWatchedServices = 30;
/** Nested stacks for more: 500 services make about 31 each (7 resources a service at most, so ~220 of 500). */
export const watchedServiceBuckets = 16;
