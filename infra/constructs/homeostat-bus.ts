import { Duration, Stack } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import type * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';

export interface HomeostatBusProps {
  /** @default 'homeostat' */
  readonly busName?: string;
  /** Keep an archive of every event for replay. @default true */
  readonly archive?: boolean;
  /** How long events are archived for replay. @default Duration.days(30) */
  readonly archiveRetention?: Duration;
}

/** The custom EventBridge bus agents talk on, with an archive so any incident can be replayed. */
export class HomeostatBus extends Construct {
  readonly bus: events.EventBus;
  readonly archive: events.Archive | undefined;

  constructor(scope: Construct, id: string, props: HomeostatBusProps = {}) {
    super(scope, id);
    this.bus = new events.EventBus(this, 'Bus', { eventBusName: props.busName ?? 'homeostat' });
    this.archive =
      props.archive === false
        ? undefined
        : this.bus.archive('Archive', {
            description: 'Every Homeostat event, for replaying incidents',
            eventPattern: { account: [Stack.of(this).account] },
            retention: props.archiveRetention ?? Duration.days(30),
          });
  }

  /** PutEvents on this bus only. */
  grantPublish(grantee: iam.IGrantable): iam.Grant {
    return this.bus.grantPutEventsTo(grantee);
  }
}
