import { Duration, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as triggers from 'aws-cdk-lib/triggers';
import { Construct } from 'constructs';
import { readRunbookDir } from '../../shared/adapters/runbook-files.ts';
import { offlineEmbeddingModel, titanEmbedV2 } from '../../shared/domain/embedding.ts';
import { NagSuppressions } from '../nag.ts';
import { AgentFunction } from './agent-function.ts';

export interface KnowledgeDatabaseProps {
  /**
   * Name of the Secrets Manager secret holding the agents' Neon connection string
   * (postgres://…, a login in the homeostat_runtime role). Create it before the
   * first deploy.
   * @default 'homeostat/database-url'
   */
  readonly databaseUrlSecretName?: string;
  /**
   * Name of the secret holding the schema owner's connection string, read by the
   * migrator only. Unset, the migrator uses databaseUrlSecretName (one URL for
   * both, so the agents run as the owner) and logs so.
   * @default none
   */
  readonly ownerDatabaseUrlSecretName?: string;
  /**
   * host:port of a WebSocket→TCP proxy in front of Postgres. Unset for Neon;
   * the local harness sets it to reach PGlite.
   * @default undefined
   */
  readonly webSocketProxy?: string;
  /** @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Embedding model for the knowledge base: a Titan Text Embeddings V2 id (the
   * agents get bedrock:InvokeModel on it) or `homeostat-hash-v1` (offline).
   * @default 'amazon.titan-embed-text-v2:0'
   */
  readonly embeddingModel?: string;
  /**
   * A folder of your own markdown runbooks, ingested on every deploy next to
   * the bundled ones. Checked at synth: an invalid runbook fails the synth.
   * @default none
   */
  readonly runbooksDir?: string;
}

/**
 * The knowledge database (Neon serverless Postgres with pgvector): the secret
 * that holds its URL, and a migrator that applies migrations/ on every deploy
 * whose migrator bundle (code or SQL) changed. A failed migration fails the
 * deploy. Watched services register themselves (ServiceRegistry).
 */
export class KnowledgeDatabase extends Construct {
  readonly secret: secretsmanager.ISecret;
  /** The schema owner's URL, when configured apart (the migrator reads it). */
  readonly ownerSecret: secretsmanager.ISecret | undefined;
  readonly migrator: AgentFunction;
  readonly trigger: triggers.Trigger;
  readonly embeddingModel: string;
  private readonly webSocketProxy: string | undefined;

  constructor(scope: Construct, id: string, props: KnowledgeDatabaseProps = {}) {
    super(scope, id);
    this.webSocketProxy = props.webSocketProxy;
    this.embeddingModel = props.embeddingModel ?? titanEmbedV2;
    if (props.runbooksDir) {
      const found = readRunbookDir(props.runbooksDir).length;
      if (found === 0) throw new Error(`runbooksDir ${props.runbooksDir} holds no .md runbooks`);
    }
    this.secret = secretsmanager.Secret.fromSecretNameV2(
      this,
      'DatabaseUrl',
      props.databaseUrlSecretName ?? 'homeostat/database-url',
    );
    this.migrator = new AgentFunction(this, 'Migrator', {
      agent: 'migrator',
      description: 'Applies Homeostat knowledge-base migrations on deploy',
      timeout: Duration.minutes(5),
      // migrations/ and the bundled runbooks come with every migrator build (bundledFolders in bundling.ts).
      copyIntoBundle: props.runbooksDir ? [{ from: props.runbooksDir, to: 'user-runbooks' }] : [],
      logRetention: props.logRetention,
    });
    this.connect(this.migrator.function);
    this.ownerSecret = props.ownerDatabaseUrlSecretName
      ? secretsmanager.Secret.fromSecretNameV2(this, 'OwnerDatabaseUrl', props.ownerDatabaseUrlSecretName)
      : undefined;
    if (this.ownerSecret) {
      this.migrator.function.addEnvironment('DATABASE_OWNER_URL_SECRET_ID', this.ownerSecret.secretName);
      this.ownerSecret.grantRead(this.migrator.function);
    }
    this.allowEmbedding(this.migrator.function);
    this.trigger = new triggers.Trigger(this, 'MigrateOnDeploy', {
      handler: this.migrator.function,
      executeOnHandlerChange: true,
      timeout: Duration.minutes(5),
    });
    NagSuppressions.addResourceSuppressions(
      this,
      [
        {
          id: 'AwsSolutions-IAM4',
          reason: 'The CDK Trigger provider uses AWSLambdaBasicExecutionRole for its own logs only.',
          appliesTo: [
            'Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole',
          ],
        },
      ],
      true,
    );
  }

  /** Gives `fn` what it needs to reach the database: read the URL secret, and the proxy setting. */
  connect(fn: lambda.Function): iam.Grant {
    fn.addEnvironment('DATABASE_URL_SECRET_ID', this.secret.secretName);
    if (this.webSocketProxy) fn.addEnvironment('DATABASE_WS_PROXY', this.webSocketProxy);
    return this.secret.grantRead(fn);
  }

  /** Lets `fn` embed text with the configured model (InvokeModel on that one model only). */
  allowEmbedding(fn: lambda.Function): void {
    fn.addEnvironment('HOMEOSTAT_EMBEDDING_MODEL', this.embeddingModel);
    if (this.embeddingModel !== offlineEmbeddingModel) {
      fn.addToRolePolicy(
        new iam.PolicyStatement({
          actions: ['bedrock:InvokeModel'],
          resources: [
            Stack.of(this).formatArn({
              service: 'bedrock',
              account: '',
              resource: 'foundation-model',
              resourceName: this.embeddingModel,
            }),
          ],
        }),
      );
    }
  }
}
