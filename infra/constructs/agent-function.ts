import { cpSync, existsSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { AssetHashType, type CfnResource, Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import {
  type AgentName,
  agentEntry,
  type BundledFolder,
  bundleAliases,
  bundledFolders,
  bundleSettings,
  prebuiltAssetsDir,
  projectRoot,
  runsFromPackage,
} from '../bundling.ts';
import { NagSuppressions, suppressWildcards } from '../nag.ts';

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
  /** Lambda's retries of a failed asynchronous invocation. @default 2 */
  readonly retryAttempts?: number;
  /** How long Lambda keeps an asynchronous invocation it could not run yet. @default Duration.hours(6) */
  readonly maxEventAge?: Duration;
  /** Caps concurrent executions (and keeps them available to this function). @default unreserved */
  readonly reservedConcurrentExecutions?: number;
  /**
   * Extra folders copied next to the bundle: a path relative to the project
   * root (copied under the same name), or `{ from, to }` where `from` may be
   * absolute. The agent's own folders (bundledFolders in bundling.ts) are
   * always there; from the installed package, another relative `from` is
   * relative to the working directory (the CDK app's).
   * @default none
   */
  readonly copyIntoBundle?: ReadonlyArray<string | { from: string; to: string }>;
}

/**
 * The code of an agent run from the installed package: its prebuilt asset
 * (dist/assets/<agent>/, built by `npm run build` with the same esbuild
 * settings), so synth needs no esbuild. Folders beyond the agent's own
 * (a user's runbooks) are added by copying the asset and them into the
 * staged asset, hashed by its output so a changed folder redeploys.
 * Throws when the package lacks the asset (a broken install).
 */
function prebuiltCode(agent: AgentName, copies: readonly BundledFolder[]): lambda.Code {
  const dir = join(prebuiltAssetsDir, agent);
  if (!existsSync(join(dir, 'index.mjs')))
    throw new Error(`the homeostat package has no prebuilt ${agent} agent at ${dir}: reinstall it`);
  const own = bundledFolders[agent] ?? [];
  const extra = copies
    .filter((c) => !own.some((o) => o.from === c.from && o.to === c.to))
    .map((c) => ({ from: resolve(c.from), to: c.to }));
  if (extra.length === 0) return lambda.Code.fromAsset(dir);
  return lambda.Code.fromAsset(dir, {
    assetHashType: AssetHashType.OUTPUT,
    bundling: {
      // Never pulled: local bundling (a copy) always succeeds or throws.
      image: lambda.Runtime.NODEJS_22_X.bundlingImage,
      local: {
        tryBundle(outputDir: string) {
          cpSync(dir, outputDir, { recursive: true });
          for (const { from, to } of extra) cpSync(from, join(outputDir, to), { recursive: true });
          return true;
        },
      },
    },
  });
}

/**
 * Common settings for every Homeostat agent: nodejs22.x on arm64, minified ESM
 * bundle with the SDK clients inside and source maps, its own log group with
 * retention, X-Ray tracing, and an SQS failure destination (the agent's DLQ)
 * for asynchronous invocations that still fail after Lambda's retries.
 * From the repository's sources the bundle is made at synth (NodejsFunction);
 * from the installed package it is the prebuilt asset.
 */
export class AgentFunction extends Construct {
  readonly function: lambda.Function;
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
    const given = (props.copyIntoBundle ?? []).map((c) => (typeof c === 'string' ? { from: c, to: c } : c));
    const copies = [
      ...(bundledFolders[props.agent] ?? []).filter((o) => !given.some((c) => c.to === o.to)),
      ...given,
    ];
    const settings = {
      ...(props.functionName ? { functionName: props.functionName } : {}),
      description: props.description,
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memorySize ?? 512,
      ...(props.reservedConcurrentExecutions !== undefined
        ? { reservedConcurrentExecutions: props.reservedConcurrentExecutions }
        : {}),
      timeout: props.timeout ?? Duration.seconds(30),
      tracing: lambda.Tracing.ACTIVE,
      logGroup: this.logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      retryAttempts: props.retryAttempts ?? 2,
      maxEventAge: props.maxEventAge ?? Duration.hours(6),
      onFailure: new SqsDestination(this.deadLetterQueue),
      environment: {
        NODE_OPTIONS: '--enable-source-maps',
        POWERTOOLS_SERVICE_NAME: `homeostat-${props.agent}`,
        ...props.environment,
      },
    } satisfies Partial<lambda.FunctionProps>;
    this.function = runsFromPackage
      ? new lambda.Function(this, 'Function', {
          ...settings,
          handler: 'index.handler',
          code: prebuiltCode(props.agent, copies),
        })
      : new nodejs.NodejsFunction(this, 'Function', {
          ...settings,
          entry: agentEntry(props.agent),
          handler: 'handler',
          projectRoot,
          depsLockFilePath: `${projectRoot}/package-lock.json`,
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
          id: 'AwsSolutions-L1',
          reason: 'Pinned to nodejs22.x: the runtime the project builds, tests and benchmarks against.',
        },
      ],
      true,
    );
    // Active tracing put the X-Ray statement in the default policy; every other statement on `*` goes
    // through allow(), into a policy of its own, so this suppression hides X-Ray and nothing else.
    suppressWildcards(
      this.defaultPolicy,
      ['*'],
      'xray:PutTraceSegments and xray:PutTelemetryRecords (active tracing): X-Ray defines no resource type or condition key for them.',
    );
    NagSuppressions.addResourceSuppressions(this.deadLetterQueue, [
      { id: 'AwsSolutions-SQS3', reason: 'This queue is itself the dead-letter queue of the agent.' },
    ]);
  }

  /** The function's role. */
  get role(): iam.IRole {
    if (!this.function.role) throw new Error(`${this.node.path} has no role`);
    return this.function.role;
  }

  /** The role's default policy (where grants and addToRolePolicy write). */
  get defaultPolicy(): iam.Policy {
    return this.role.node.findChild('DefaultPolicy') as iam.Policy;
  }

  /**
   * Allows `statement`, and says why where it is broader than one resource.
   * On `*` (an action AWS lets no policy scope by resource) it goes into a
   * policy of its own whose cdk-nag suppression names its actions, so no
   * suppression hides another statement; a wildcard ARN stays in the default
   * policy with a suppression for exactly that ARN.
   */
  allow(statement: iam.PolicyStatement, why?: string): void {
    const wildcards = statement.resources.filter((r) => r.includes('*'));
    if (wildcards.length > 0 && !why) throw new Error(`${statement.sid}: say why ${wildcards} is needed`);
    if (statement.resources.includes('*')) {
      if (!statement.sid) throw new Error('a statement on * needs a sid');
      if (statement.resources.length > 1)
        throw new Error(`${statement.sid}: keep * in a statement of its own`);
      const policy = new iam.Policy(this, `Unscoped${statement.sid}`, { statements: [statement] });
      policy.attachToRole(this.role);
      // The function (not its role, a child of the same construct) waits for the policy.
      (this.function.node.defaultChild as CfnResource).addResourceDependency(
        policy.node.defaultChild as CfnResource,
      );
      suppressWildcards(policy, ['*'], `${statement.actions.join(', ')}: ${why}`);
      return;
    }
    this.function.addToRolePolicy(statement);
    if (wildcards.length > 0 && why) suppressWildcards(this.defaultPolicy, wildcards, why);
  }

  /** Lets the agent dead-letter the events it rejects itself, with the reason (HOMEOSTAT_DEAD_LETTER_QUEUE_URL). */
  deadLetterOwnRejections(): void {
    this.function.addEnvironment('HOMEOSTAT_DEAD_LETTER_QUEUE_URL', this.deadLetterQueue.queueUrl);
    this.deadLetterQueue.grantSendMessages(this.function);
  }
}
