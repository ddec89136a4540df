import { Duration, Stack } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { NagSuppressions, suppressWildcards } from '../nag.ts';
import { AgentFunction } from './agent-function.ts';
import type { KnowledgeDatabase } from './knowledge-database.ts';

export interface ServiceRegistryProps {
  readonly database: KnowledgeDatabase;
  /**
   * SSM parameter that publishes the registry's service token, so a
   * WatchedService in any other stack or app of the account and region finds it.
   */
  readonly parameterName: string;
  /** @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
}

/** `/homeostat/<bus name>/service-registry`: where a Homeostat publishes its registry's service token. */
export const registryParameterName = (busName: string) => `/homeostat/${busName}/service-registry`;

/**
 * The service registry: the registry agent (functions/registry) behind the CDK
 * provider framework, the handler of every WatchedService's
 * Custom::HomeostatWatchedService resource. Its service token is published in
 * an SSM parameter for WatchedServices declared in other stacks and apps.
 */
export class ServiceRegistry extends Construct {
  readonly agent: AgentFunction;
  readonly provider: cr.Provider;
  /** The custom resources' ServiceToken (the provider framework's function ARN). */
  readonly serviceToken: string;
  readonly parameter: ssm.StringParameter;

  constructor(scope: Construct, id: string, props: ServiceRegistryProps) {
    super(scope, id);
    this.agent = new AgentFunction(this, 'Registry', {
      agent: 'registry',
      description:
        'Homeostat service registry: registers and unregisters watched services (WatchedService custom resources)',
      timeout: Duration.minutes(1),
      logRetention: props.logRetention,
    });
    props.database.connect(this.agent.function);
    this.provider = new cr.Provider(this, 'Provider', {
      onEventHandler: this.agent.function,
      logGroup: new logs.LogGroup(this, 'ProviderLogs', {
        retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      }),
    });
    this.serviceToken = this.provider.serviceToken;
    this.parameter = new ssm.StringParameter(this, 'ServiceToken', {
      parameterName: props.parameterName,
      stringValue: this.serviceToken,
      description: `Service token of the Homeostat service registry (${Stack.of(this).stackName}): WatchedService custom resources`,
    });
    NagSuppressions.addResourceSuppressions(
      this.provider,
      [
        {
          id: 'AwsSolutions-IAM4',
          reason:
            'The CDK provider framework function uses AWSLambdaBasicExecutionRole for its own logs only.',
          appliesTo: [
            'Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole',
          ],
        },
        {
          id: 'AwsSolutions-L1',
          reason: 'The provider framework function runtime is chosen by aws-cdk-lib.',
        },
      ],
      true,
    );
    const framework = this.provider.node.findChild('framework-onEvent') as lambda.Function;
    if (!framework.role) throw new Error(`${this.node.path}: the provider framework function has no role`);
    suppressWildcards(
      framework.role.node.findChild('DefaultPolicy'),
      [`${this.agent.function.functionArn}:*`],
      'The provider framework invokes the registry agent and its versions (function:name:*), as grantInvoke writes it.',
    );
  }
}
