import { Duration, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as ssm from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import type { RemediationConfig } from '../../shared/config/remediation.ts';
import { AgentFunction } from './agent-function.ts';
import type { KnowledgeDatabase } from './knowledge-database.ts';

export interface McpServerProps {
  readonly database: KnowledgeDatabase;
  /** The kill switch: read, and turned on (the code refuses to turn it off here). */
  readonly killSwitch: ssm.IStringParameter;
  /** The remediation settings the plan agent applies: a request is checked against the same policy. */
  readonly remediation: RemediationConfig;
  /** @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * Homeostat over MCP as a Lambda (functions/mcp): Streamable HTTP, stateless,
 * behind a Function URL with AWS_IAM auth — only principals granted
 * lambda:InvokeFunctionUrl reach it, and the server records the signing
 * principal as the requester. Its role reads what the operator CLI reads (the
 * database, the services' state, the kill switch), may write the kill switch
 * (to turn it on) and publishes nothing: approval.requested leaves through the
 * outbox relay. It cannot decide approvals (no invoke on the approval function).
 */
export class McpServer extends Construct {
  readonly agent: AgentFunction;
  readonly url: lambda.FunctionUrl;

  constructor(scope: Construct, id: string, props: McpServerProps) {
    super(scope, id);
    this.agent = new AgentFunction(this, 'Server', {
      // functions/mcp/handler.ts: Streamable HTTP behind the Function URL.
      agent: 'mcp',
      description: 'Homeostat over MCP: investigate incidents, request remediations a person approves',
      logRetention: props.logRetention,
      timeout: Duration.seconds(30),
      // Behind a URL: a flood is throttled here instead of taking the account's concurrency.
      reservedConcurrentExecutions: 5,
      environment: {
        HOMEOSTAT_KILL_SWITCH_PARAMETER: props.killSwitch.parameterName,
        HOMEOSTAT_REMEDIATION: JSON.stringify(props.remediation),
      },
    });
    const fn = this.agent.function;
    props.database.connect(fn);
    props.database.allowEmbedding(fn);
    props.database.trigger.executeBefore(fn);
    props.killSwitch.grantRead(fn);
    props.killSwitch.grantWrite(fn);
    this.agent.allow(
      new iam.PolicyStatement({
        sid: 'ReadServices',
        actions: ['ecs:DescribeServices'],
        resources: [Stack.of(this).formatArn({ service: 'ecs', resource: 'service', resourceName: '*' })],
      }),
      'Read-only: services may be registered at run time (the registry), so any service of the account and region.',
    );
    this.agent.allow(
      new iam.PolicyStatement({
        sid: 'ReadTaskDefinitions',
        actions: ['ecs:DescribeTaskDefinition'],
        resources: ['*'],
      }),
      'read-only; DescribeTaskDefinition supports no resource-level permissions.',
    );
    this.url = fn.addFunctionUrl({ authType: lambda.FunctionUrlAuthType.AWS_IAM });
  }
}
