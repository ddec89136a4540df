import * as z from 'zod/mini';

/** ECS events as EventBridge delivers them (AWS documentation shapes); only what Homeostat reads is required. */
const ecsEnvelope = <D extends z.ZodMiniType, T extends string>(detailType: T, detail: D) =>
  z.object({
    version: z.string(),
    id: z.string().check(z.minLength(1)),
    'detail-type': z.literal(detailType),
    source: z.literal('aws.ecs'),
    account: z.string(),
    time: z.iso.datetime({ offset: true }),
    region: z.string(),
    resources: z._default(z.array(z.string()), []),
    detail,
  });

export const taskStateChangeSchema = ecsEnvelope(
  'ECS Task State Change',
  z.object({
    clusterArn: z.string().check(z.minLength(1)),
    taskArn: z.string().check(z.minLength(1)),
    lastStatus: z.string(),
    desiredStatus: z.optional(z.string()),
    group: z.optional(z.string()),
    taskDefinitionArn: z.optional(z.string()),
    stopCode: z.optional(z.string()),
    stoppedReason: z.optional(z.string()),
    stoppedAt: z.optional(z.string()),
    containers: z._default(
      z.array(
        z.object({
          name: z.string(),
          exitCode: z.optional(z.nullable(z.number())),
          reason: z.optional(z.string()),
          lastStatus: z.optional(z.string()),
        }),
      ),
      [],
    ),
  }),
);

export const deploymentStateChangeSchema = ecsEnvelope(
  'ECS Deployment State Change',
  z.object({
    eventType: z.string(),
    eventName: z.string().check(z.minLength(1)),
    deploymentId: z.optional(z.string()),
    reason: z.optional(z.string()),
    updatedAt: z.optional(z.string()),
  }),
);

export const serviceActionSchema = ecsEnvelope(
  'ECS Service Action',
  z.object({
    eventType: z.string(),
    eventName: z.string().check(z.minLength(1)),
    clusterArn: z.optional(z.string()),
    reason: z.optional(z.string()),
    capacityProviderArns: z.optional(z.array(z.string())),
    createdAt: z.optional(z.string()),
  }),
);

export type TaskStateChange = z.infer<typeof taskStateChangeSchema>;
export type DeploymentStateChange = z.infer<typeof deploymentStateChangeSchema>;
export type ServiceAction = z.infer<typeof serviceActionSchema>;
