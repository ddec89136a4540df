import { Duration, Lazy, Stack } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';

export interface HomeostatBusProps {
  /** @default 'homeostat' */
  readonly busName?: string;
  /** Keep an archive of every event for replay. @default true */
  readonly archive?: boolean;
  /** How long events are archived for replay. @default Duration.days(30) */
  readonly archiveRetention?: Duration;
}

/** The one source applications may publish on the bus (signals: shared/events/homeostat-inputs.ts). */
export const applicationSource = 'homeostat.app';

/**
 * The source each agent's code publishes (its use case's `source` constant;
 * infra/least-privilege.test.ts checks them against the code). Notify and the
 * migrator publish nothing.
 */
export const agentSources = {
  perceive: 'homeostat.perceive',
  diagnose: 'homeostat.diagnose',
  plan: 'homeostat.plan',
  act: 'homeostat.act',
  verify: 'homeostat.verify',
  approve: 'homeostat.approve',
  learn: 'homeostat.learn',
  chaos: 'homeostat.chaos',
} as const;

/**
 * What the verify agent may publish: its own events, and every agent's that
 * its one-minute sweep relays from the outbox when their own PutEvents did
 * not go out (shared/adapters/outbox-relay.ts; every agent writes its events
 * to the outbox). Never `homeostat.app`.
 */
export const relaySources: readonly string[] = [
  agentSources.verify,
  ...Object.values(agentSources).filter((s) => s !== agentSources.verify),
];

/**
 * The custom EventBridge bus agents talk on, with an archive so any incident
 * can be replayed. Each agent may publish only its own source (its role's
 * policy, and the bus's resource policy, which also keeps every other
 * principal of the account to `homeostat.app`).
 */
export class HomeostatBus extends Construct {
  readonly bus: events.EventBus;
  /** The bus's name as a plain string (not a token): it also names the stack's settings parameters. */
  readonly name: string;
  readonly archive: events.Archive | undefined;
  private readonly publishers: { role: iam.IRole; sources: string[] }[] = [];

  constructor(scope: Construct, id: string, props: HomeostatBusProps = {}) {
    super(scope, id);
    const busName = props.busName ?? 'homeostat';
    this.name = busName;
    this.bus = new events.EventBus(this, 'Bus', { eventBusName: busName });
    this.archive =
      props.archive === false
        ? undefined
        : this.bus.archive('Archive', {
            description: 'Every Homeostat event, for replaying incidents',
            eventPattern: { account: [Stack.of(this).account] },
            retention: props.archiveRetention ?? Duration.days(30),
          });
    // The bus's own property, not an AWS::Events::EventBusPolicy (which the local emulator does not
    // know); its ARN is built from the name because a resource cannot reference its own attributes.
    const busArn = Stack.of(this).formatArn({
      service: 'events',
      resource: 'event-bus',
      resourceName: busName,
    });
    (this.bus.node.defaultChild as events.CfnEventBus).policy = Lazy.any({
      produce: () => this.resourcePolicy(busArn),
    });
  }

  /** PutEvents on this bus, for events of `sources` only (an agent publishes its own, e.g. `homeostat.plan`). */
  grantPublish(role: iam.IRole, sources: readonly string[]): void {
    if (sources.length === 0) throw new Error('grantPublish needs the sources the agent publishes');
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'PublishOwnEvents',
        actions: ['events:PutEvents'],
        resources: [this.bus.eventBusArn],
        conditions: { StringEquals: { 'events:source': one(sources) } },
      }),
    );
    this.publishers.push({ role, sources: [...sources] });
  }

  /**
   * Denies only (same-account callers still need their own Allow): an agent
   * publishing a source other than its own, and anyone else — people,
   * applications — publishing anything but `homeostat.app`.
   */
  private resourcePolicy(busArn: string) {
    const deny = (sid: string, conditions: Record<string, Record<string, unknown>>) => ({
      Sid: sid,
      Effect: 'Deny',
      Principal: '*',
      Action: 'events:PutEvents',
      Resource: busArn,
      Condition: conditions,
    });
    return {
      Version: '2012-10-17',
      Statement: [
        deny('ApplicationsPublishOnlyAppSignals', {
          StringNotEquals: { 'events:source': applicationSource },
          ...(this.publishers.length > 0
            ? { ArnNotEquals: { 'aws:PrincipalArn': this.publishers.map((p) => p.role.roleArn) } }
            : {}),
          // Archive replays come from EventBridge itself.
          Bool: { 'aws:PrincipalIsAWSService': 'false' },
        }),
        ...this.publishers.map((p) =>
          deny(`PublishesOnly${pascal(p.sources[0] ?? '')}${p.sources.length > 1 ? 'AndRelayed' : ''}`, {
            ArnEquals: { 'aws:PrincipalArn': p.role.roleArn },
            StringNotEquals: { 'events:source': one(p.sources) },
          }),
        ),
      ],
    };
  }
}

const pascal = (source: string) =>
  source
    .split(/[^A-Za-z0-9]+/)
    .map((w) => (w[0]?.toUpperCase() ?? '') + w.slice(1))
    .join('');
const one = (values: readonly string[]) => (values.length === 1 ? values[0] : [...values]);
