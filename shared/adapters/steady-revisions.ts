import type { ServiceRef } from '../domain/signal.ts';
import type { Pool, PoolClient } from './database.ts';

/**
 * Notes that the service ran `taskDefinition` (`family:revision`) steadily at `at`, in
 * steady_revisions (migration 0005): the first and the last time it was seen steady, so
 * lastKnownGood can ask how long it stayed steady. Idempotent (a redelivered event writes
 * the same row); out-of-order reports only ever widen the period. The one writer for the
 * verify agent (a resolved incident) and the perception agent (ECS's own steady-state and
 * deployment-completed events).
 */
export async function recordSteadyRevision(
  db: Pool | PoolClient,
  ref: ServiceRef,
  taskDefinition: string,
  at: Date,
): Promise<void> {
  await db.query(
    `INSERT INTO steady_revisions (cluster, service, task_definition, first_steady_at, last_steady_at)
     VALUES ($1, $2, $3, $4, $4)
     ON CONFLICT (cluster, service, task_definition)
       DO UPDATE SET first_steady_at = least(steady_revisions.first_steady_at, excluded.first_steady_at),
                     last_steady_at = greatest(steady_revisions.last_steady_at, excluded.last_steady_at)`,
    [ref.cluster, ref.service, taskDefinition, at.toISOString()],
  );
}
