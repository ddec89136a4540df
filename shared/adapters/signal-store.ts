import type { SignalStore } from '../domain/ports.ts';
import type { RetryOptions } from '../domain/retry.ts';
import type { ServiceSnapshot, Signal } from '../domain/signal.ts';
import { type Pool, withTransaction } from './database.ts';

export class PostgresSignalStore implements SignalStore {
  constructor(
    private readonly pool: Pool,
    private readonly retry: RetryOptions = {},
  ) {}

  async record(signal: Signal, snapshot: ServiceSnapshot | null): Promise<boolean> {
    return withTransaction(
      this.pool,
      async (client) => {
        const result = await client.query(
          `INSERT INTO signals
           (id, kind, name, state, previous_state, reason, occurred_at, cluster, service, service_snapshot, raw)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
         ON CONFLICT (id) DO NOTHING
         RETURNING id`,
          [
            signal.id,
            signal.kind,
            signal.name,
            signal.state,
            signal.previousState,
            signal.reason,
            signal.occurredAt.toISOString(),
            signal.service?.cluster ?? null,
            signal.service?.service ?? null,
            snapshot === null ? null : JSON.stringify(snapshot),
            JSON.stringify(signal.raw),
          ],
        );
        return (result.rowCount ?? 0) > 0;
      },
      this.retry,
    );
  }
}
