import { Duration, Stack } from 'aws-cdk-lib';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import { AgentFunction } from './agent-function.ts';
import type { KnowledgeDatabase } from './knowledge-database.ts';

export interface ServiceRegistryProps {
  readonly database: KnowledgeDatabase;
  /**
   * SSM parameter that publishes the registry's service token, so a
   * WatchedService in any other stack or app of the account and region finds it.
   */
  readonly parameterName: string;
  /** The Homeostat bus's name: names the registry agent `homeostat-<bus>-registry`. */
  readonly busName: string;
  /** @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
}

/** `/homeostat/<bus name>/service-registry`: where a Homeostat publishes its registry's service token. */
export const registryParameterName = (busName: string) => `/homeostat/${busName}/service-registry`;

/**
 * The service registry: the registry agent (functions/registry), the
 * Lambda-backed handler of every WatchedService's
 * Custom::HomeostatWatchedService resource. Its service token is published in
 * an SSM parameter for WatchedServices declared in other stacks and apps.
 */
export class ServiceRegistry extends Construct {
  readonly agent: AgentFunction;
  /** The custom resources' ServiceToken: the registry agent's ARN. */
  readonly serviceToken: string;
  readonly parameter: ssm.StringParameter;

  constructor(scope: Construct, id: string, props: ServiceRegistryProps) {
    super(scope, id);
    this.agent = new AgentFunction(this, 'Registry', {
      agent: 'registry',
      description:
        'Homeostat service registry: registers and unregisters watched services (WatchedService custom resources)',
      // A fixed name keeps the service token (its ARN) stable: other apps' registrations refuse a
      // changed ServiceToken ("Modifying service token is not allowed") after a redeploy.
      functionName: `homeostat-${props.busName}-registry`,
      timeout: Duration.minutes(1),
      logRetention: props.logRetention,
      // CloudFormation waits for an answer; a request retried after it gave up would register a
      // service no stack declares. The one retry that matters (answering) is the agent's own.
      retryAttempts: 0,
      maxEventAge: Duration.minutes(5),
    });
    props.database.connect(this.agent.function);
    // CloudFormation invokes the agent itself (a Lambda-backed custom resource), which answers
    // through the request's ResponseURL: no provider framework function in between.
    this.serviceToken = this.agent.function.functionArn;
    this.parameter = new ssm.StringParameter(this, 'ServiceToken', {
      parameterName: props.parameterName,
      stringValue: this.serviceToken,
      description: `Service token of the Homeostat service registry (${Stack.of(this).stackName}): WatchedService custom resources`,
    });
  }
}
