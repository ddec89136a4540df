import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Pool } from '../adapters/database.ts';
import { MigrationError } from '../domain/errors.ts';

export interface Migration {
  /** File name, e.g. 0001_init.sql; the order key. */
  name: string;
  sql: string;
  checksum: string;
}

export interface MigrationReport {
  applied: string[];
  alreadyApplied: string[];
}

const fileName = /^(\d{4})_[a-z0-9_]+\.sql$/;
// Arbitrary constant: serialises concurrent migrators (a deploy and a developer, say).
const advisoryLockKey = 7_263_514_901;

export function checksumOf(sql: string): string {
  return createHash('sha256').update(sql).digest('hex');
}

/** Reads migrations/NNNN_name.sql in order; refuses stray names and duplicate numbers. */
export async function loadMigrations(dir: string): Promise<Migration[]> {
  const names = (await readdir(dir)).filter((n) => n.endsWith('.sql')).sort();
  const seen = new Map<string, string>();
  const migrations: Migration[] = [];
  for (const name of names) {
    const number = fileName.exec(name)?.[1];
    if (!number) throw new MigrationError(`migration ${name} must be named NNNN_lower_snake.sql`);
    const clash = seen.get(number);
    if (clash) throw new MigrationError(`migrations ${clash} and ${name} share number ${number}`);
    seen.set(number, name);
    const sql = await readFile(join(dir, name), 'utf8');
    migrations.push({ name, sql, checksum: checksumOf(sql) });
  }
  return migrations;
}

/**
 * Applies pending migrations in order, each in its own transaction, and records
 * name + checksum. An applied migration whose file changed is an error: fix
 * forward with a new migration instead.
 */
export async function migrate(
  pool: Pool,
  migrations: readonly Migration[],
  onApplied: (name: string) => void = () => {},
): Promise<MigrationReport> {
  const client = await pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [advisoryLockKey]);
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      name text PRIMARY KEY,
      checksum text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const { rows } = await client.query<{ name: string; checksum: string }>(
      'SELECT name, checksum FROM schema_migrations',
    );
    const recorded = new Map(rows.map((r) => [r.name, r.checksum]));
    const report: MigrationReport = { applied: [], alreadyApplied: [] };
    for (const migration of migrations) {
      const checksum = recorded.get(migration.name);
      if (checksum !== undefined) {
        if (checksum !== migration.checksum) {
          throw new MigrationError(
            `migration ${migration.name} was changed after it was applied (checksum ${checksum.slice(0, 12)} → ${migration.checksum.slice(0, 12)}); add a new migration instead`,
          );
        }
        report.alreadyApplied.push(migration.name);
        continue;
      }
      try {
        await client.query('BEGIN');
        await client.query(migration.sql);
        await client.query('INSERT INTO schema_migrations (name, checksum) VALUES ($1, $2)', [
          migration.name,
          migration.checksum,
        ]);
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK').catch(() => {});
        throw new MigrationError(`migration ${migration.name} failed: ${(error as Error).message}`, {
          cause: error,
        });
      }
      report.applied.push(migration.name);
      onApplied(migration.name);
    }
    return report;
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [advisoryLockKey]).catch(() => {});
    client.release();
  }
}
