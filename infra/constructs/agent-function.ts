import { isAbsolute } from 'node:path';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { type AgentName, agentEntry, bundleAliases, bundleSettings, projectRoot } from '../bundling.ts';
import { NagSuppressions } from '../nag.ts';

export interface AgentFunctionProps {
  /** Folder under functions/ holding handler.ts. */
  readonly agent: AgentName;
  readonly description: string;
  /** A fixed name, for a function that must know its own ARN (the ARN then needs no reference to itself). @default generated */
  readonly functionName?: string;
  readonly environment?: Record<string, string>;
  /** @default Duration.seconds(30) */
  readonly timeout?: Duration;
  /** @default 512 */
  readonly memorySize?: number;
  /** @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Extra folders copied next to the bundle: a path relative to the project
   * root (copied under the same name), or `{ from, to }` where `from` may be absolute.
   * @default none
   */
  readonly copyIntoBundle?: ReadonlyArray<string | { from: string; to: string }>;
}

/**
 * Common settings for every Homeostat agent: nodejs22.x on arm64, minified ESM
 * bundle with the SDK clients inside and source maps, its own log group with
 * retention, X-Ray tracing, and an SQS failure destination (the agent's DLQ)
 * for asynchronous invocations that still fail after Lambda's retries.
 */
export class AgentFunction extends Construct {
  readonly function: nodejs.NodejsFunction;
  readonly deadLetterQueue: sqs.Queue;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: AgentFunctionProps) {
    super(scope, id);
    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const copies = (props.copyIntoBundle ?? []).map((c) => (typeof c === 'string' ? { from: c, to: c } : c));
    this.function = new nodejs.NodejsFunction(this, 'Function', {
      entry: agentEntry(props.agent),
      handler: 'handler',
      ...(props.functionName ? { functionName: props.functionName } : {}),
      projectRoot,
      depsLockFilePath: `${projectRoot}/package-lock.json`,
      description: props.description,
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memorySize ?? 512,
      timeout: props.timeout ?? Duration.seconds(30),
      tracing: lambda.Tracing.ACTIVE,
      logGroup: this.logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      retryAttempts: 2,
      maxEventAge: Duration.hours(6),
      onFailure: new SqsDestination(this.deadLetterQueue),
      environment: {
        NODE_OPTIONS: '--enable-source-maps',
        POWERTOOLS_SERVICE_NAME: `homeostat-${props.agent}`,
        ...props.environment,
      },
      bundling: {
        format: nodejs.OutputFormat.ESM,
        target: bundleSettings.target,
        minify: bundleSettings.minify,
        sourceMap: bundleSettings.sourcemap,
        mainFields: [...bundleSettings.mainFields],
        banner: bundleSettings.banner,
        externalModules: bundleSettings.external,
        esbuildArgs: Object.fromEntries(
          Object.entries(bundleAliases).map(([module, path]) => [`--alias:${module}`, path]),
        ),
        commandHooks: {
          beforeBundling: () => [],
          beforeInstall: () => [],
          afterBundling: (inputDir: string, outputDir: string) =>
            copies.map(
              ({ from, to }) =>
                `cp -R "${isAbsolute(from) ? from : `${inputDir}/${from}`}" "${outputDir}/${to}"`,
            ),
        },
      },
    });

    NagSuppressions.addResourceSuppressions(
      this.function,
      [
        {
          id: 'AwsSolutions-IAM4',
          reason: 'AWSLambdaBasicExecutionRole only allows writing this function’s own logs.',
          appliesTo: [
            'Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole',
          ],
        },
        {
          id: 'AwsSolutions-IAM5',
          reason: 'X-Ray PutTraceSegments/PutTelemetryRecords do not support resource-level permissions.',
          appliesTo: ['Resource::*'],
        },
        {
          id: 'AwsSolutions-L1',
          reason: 'Pinned to nodejs22.x: the runtime the project builds, tests and benchmarks against.',
        },
      ],
      true,
    );
    NagSuppressions.addResourceSuppressions(this.deadLetterQueue, [
      { id: 'AwsSolutions-SQS3', reason: 'This queue is itself the dead-letter queue of the agent.' },
    ]);
  }

  /** Lets the agent dead-letter the events it rejects itself, with the reason (HOMEOSTAT_DEAD_LETTER_QUEUE_URL). */
  deadLetterOwnRejections(): void {
    this.function.addEnvironment('HOMEOSTAT_DEAD_LETTER_QUEUE_URL', this.deadLetterQueue.queueUrl);
    this.deadLetterQueue.grantSendMessages(this.function);
  }
}
