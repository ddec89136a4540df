/**
 * Helpers for the integ and e2e tiers: clients for the emulator the global
 * setup started, a migrated in-memory knowledge database, an ECS service in the
 * emulator, and a queue that captures events from a bus.
 */
import { randomUUID } from 'node:crypto';
import { CreateClusterCommand, CreateServiceCommand, ECSClient, RegisterTaskDefinitionCommand } from '@aws-sdk/client-ecs';
import {
  DeleteRuleCommand,
  EventBridgeClient,
  PutRuleCommand,
  PutTargetsCommand,
  RemoveTargetsCommand,
} from '@aws-sdk/client-eventbridge';
import {
  CreateQueueCommand,
  DeleteQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { inject } from 'vitest';
import { createPool, type Pool } from '../shared/adapters/database.ts';
import { loadMigrations, migrate } from '../shared/db/migrate.ts';
import { startLocalDatabase, type LocalDatabase } from './db-server.ts';
import { localClientConfig } from './deploy-local.ts';
import { waitFor } from './harness.ts';
import { migrationsDir } from './migrate-local.ts';

export const emulatorEndpoint = () => inject('emulatorEndpoint');
export const emulatorClientConfig = () => localClientConfig(emulatorEndpoint());

export const uniqueName = (prefix: string) => `${prefix}-${randomUUID().slice(0, 8)}`;

export interface TestDatabase {
  db: LocalDatabase;
  pool: Pool;
  stop(): Promise<void>;
}

/** A fresh in-memory PGlite with pgvector, migrated, reached through the Neon driver. */
export async function startMigratedDatabase(): Promise<TestDatabase> {
  const db = await startLocalDatabase();
  const pool = createPool({ url: db.url, wsProxy: db.wsProxy });
  await migrate(pool, await loadMigrations(migrationsDir));
  return {
    db,
    pool,
    async stop() {
      await pool.end();
      await db.stop();
    },
  };
}

/** Registers a task definition and creates a service in the emulator's ECS control plane. */
export async function createEcsService(ecs: ECSClient, cluster: string, service: string, desiredCount: number) {
  await ecs.send(new CreateClusterCommand({ clusterName: cluster }));
  const td = await ecs.send(
    new RegisterTaskDefinitionCommand({
      family: service,
      requiresCompatibilities: ['FARGATE'],
      networkMode: 'awsvpc',
      cpu: '256',
      memory: '512',
      containerDefinitions: [{ name: service, image: `${service}:1.0`, essential: true, memory: 512 }],
    }),
  );
  await ecs.send(
    new CreateServiceCommand({
      cluster,
      serviceName: service,
      taskDefinition: td.taskDefinition?.taskDefinitionArn,
      desiredCount,
      launchType: 'FARGATE',
    }),
  );
  return td.taskDefinition?.taskDefinitionArn ?? '';
}

export interface EventCapture {
  /** Waits until an event whose `detail` satisfies `match` arrives, or fails at the deadline. */
  next<T = Record<string, unknown>>(match: (detail: T) => boolean, timeoutMs?: number): Promise<T>;
  /** Every event received so far. */
  received(): Record<string, unknown>[];
  dispose(): Promise<void>;
}

/** A rule on `busName` for `detailType` that delivers into a fresh SQS queue. */
export async function captureEvents(busName: string, detailType: string): Promise<EventCapture> {
  const config = emulatorClientConfig();
  const sqs = new SQSClient(config);
  const events = new EventBridgeClient(config);
  const name = uniqueName('capture');
  const queue = await sqs.send(new CreateQueueCommand({ QueueName: name }));
  const queueUrl = queue.QueueUrl as string;
  const attrs = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }));
  await events.send(
    new PutRuleCommand({ Name: name, EventBusName: busName, EventPattern: JSON.stringify({ 'detail-type': [detailType] }) }),
  );
  await events.send(
    new PutTargetsCommand({
      Rule: name,
      EventBusName: busName,
      Targets: [{ Id: 'queue', Arn: attrs.Attributes?.QueueArn }],
    }),
  );
  const seen: Record<string, unknown>[] = [];
  const drain = async () => {
    const out = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
    );
    for (const message of out.Messages ?? []) seen.push(JSON.parse(message.Body ?? '{}') as Record<string, unknown>);
  };
  return {
    received: () => seen,
    async next<T>(match: (detail: T) => boolean, timeoutMs = 30_000) {
      return waitFor(
        `an event of type ${detailType} on ${busName}`,
        async () => {
          await drain();
          return seen.map((e) => e.detail as T).find(match);
        },
        { timeoutMs, intervalMs: 100 },
      );
    },
    async dispose() {
      await events.send(new RemoveTargetsCommand({ Rule: name, EventBusName: busName, Ids: ['queue'] }));
      await events.send(new DeleteRuleCommand({ Name: name, EventBusName: busName }));
      await sqs.send(new DeleteQueueCommand({ QueueUrl: queueUrl }));
      sqs.destroy();
      events.destroy();
    },
  };
}
