import * as z from 'zod/mini';
import { ConfigurationError } from '../domain/errors.ts';
import { describeIssues } from '../events/zod.ts';

/**
 * What a deploy declares about one watched service (a WatchedService): checked
 * at synth by the construct and at deploy time by the registry agent, with this
 * one schema. CloudFormation hands custom-resource properties over as strings
 * ("3" for 3), so numbers are coerced.
 */
export const serviceRegistrationSchema = z
  .object({
    /** ECS cluster name. */
    cluster: z.string().check(z.minLength(1), z.maxLength(255)),
    /** ECS service name. */
    service: z.string().check(z.minLength(1), z.maxLength(255)),
    /** Alarms whose name starts with one of these belong to the service. */
    alarmPrefixes: z.array(z.string().check(z.minLength(1))),
    /** Bounds of scale_out / scale_in, in tasks. */
    minTasks: z.coerce.number().check(z.int(), z.gte(0)),
    maxTasks: z.coerce.number().check(z.int(), z.gte(1)),
    /** The declared maintenance task definitions (family, family:revision or ARN); absent: the registry keeps its own. */
    maintenanceTasks: z.optional(z.array(z.string().check(z.minLength(1)))),
  })
  .check(
    z.refine((r) => r.maxTasks >= r.minTasks, {
      message: 'maxTasks must be at least minTasks',
      path: ['maxTasks'],
    }),
  );

export type ServiceRegistration = z.infer<typeof serviceRegistrationSchema>;

/**
 * Parses a registration (a custom resource's properties, or a construct's
 * props). Throws ConfigurationError naming every problem and the service.
 */
export function parseServiceRegistration(value: unknown, where = 'watched service'): ServiceRegistration {
  const parsed = serviceRegistrationSchema.safeParse(value);
  if (parsed.success) return parsed.data;
  throw new ConfigurationError(`${where}: ${describeIssues(parsed.error).join('; ')}`);
}
