/**
 * The one writer of the audit log (append-only: migration 0003's trigger
 * refuses updates and deletes). Every agent, the CLI and the stores append
 * through it, so every row carries the hash of the inputs it was decided on.
 */
import { type AuditEntry, inputsHashOf } from '../domain/knowledge.ts';
import type { PoolClient } from './database.ts';

/**
 * Appends `entries` in order, inside the caller's transaction when `db` is
 * a transaction's client. Returns each row's id and inputs hash.
 */
export async function appendAudit(
  db: Pick<PoolClient, 'query'>,
  entries: readonly AuditEntry[],
): Promise<{ id: number; inputsHash: string }[]> {
  const written: { id: number; inputsHash: string }[] = [];
  for (const entry of entries) {
    const inputsHash = inputsHashOf(entry.inputs);
    const { rows } = await db.query(
      `INSERT INTO audit_log (actor, action, incident_id, inputs_hash, inputs, result, detail)
       VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
      [
        entry.actor,
        entry.action,
        entry.incidentId ?? null,
        inputsHash,
        entry.inputs,
        entry.result,
        entry.detail ?? {},
      ],
    );
    written.push({ id: Number(rows[0].id), inputsHash });
  }
  return written;
}
