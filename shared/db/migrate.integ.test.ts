import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type LocalDatabase, startLocalDatabase } from '../../localstack/db-server.ts';
import { migrationsDir } from '../../localstack/migrate-local.ts';
import { createPool, type Pool } from '../adapters/database.ts';
import { MigrationError } from '../domain/errors.ts';
import { loadMigrations, migrate } from './migrate.ts';

/** Migrations against PGlite through the Neon driver and the WebSocket proxy. */
describe('migration runner', () => {
  let db: LocalDatabase;
  let pool: Pool;
  let dir: string;

  beforeEach(async () => {
    db = await startLocalDatabase();
    pool = createPool({ url: db.url, wsProxy: db.wsProxy });
    dir = await mkdtemp(join(tmpdir(), 'homeostat-migrations-'));
    await cp(migrationsDir, dir, { recursive: true });
  });

  afterEach(async () => {
    await pool.end();
    await db.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const tableExists = async (name: string) =>
    (await pool.query('SELECT to_regclass($1) IS NOT NULL AS present', [name])).rows[0]?.present as boolean;

  it('applies the project migrations once, records checksums, and is a no-op the second time', async () => {
    const migrations = await loadMigrations(dir);
    const first = await migrate(pool, migrations);
    expect(first.applied).toContain('0001_init.sql');
    expect(await tableExists('signals')).toBe(true);
    const recorded = await pool.query('SELECT name, checksum FROM schema_migrations ORDER BY name');
    expect(recorded.rows).toEqual(migrations.map((m) => ({ name: m.name, checksum: m.checksum })));

    const second = await migrate(pool, await loadMigrations(dir));
    expect(second).toEqual({ applied: [], alreadyApplied: migrations.map((m) => m.name) });
  });

  it('serves pgvector: cosine distance and an HNSW index through the Neon driver', async () => {
    await migrate(pool, await loadMigrations(dir));
    await pool.query('CREATE TABLE v (id int PRIMARY KEY, e vector(3))');
    await pool.query("INSERT INTO v VALUES (1, '[1,0,0]'), (2, '[0,1,0]'), (3, '[0.9,0.1,0]')");
    await pool.query('CREATE INDEX ON v USING hnsw (e vector_cosine_ops)');
    const { rows } = await pool.query("SELECT id FROM v ORDER BY e <=> '[1,0,0]' LIMIT 2");
    expect(rows.map((r) => r.id)).toEqual([1, 3]);
  });

  it('refuses an applied migration whose file changed, and applies nothing after it', async () => {
    await migrate(pool, await loadMigrations(dir));
    await writeFile(join(dir, '0001_init.sql'), '-- edited\nSELECT 1;');
    await writeFile(join(dir, '0099_later.sql'), 'CREATE TABLE later (id int);');
    await expect(migrate(pool, await loadMigrations(dir))).rejects.toThrow(
      /0001_init.sql was changed after it was applied/,
    );
    expect(await tableExists('later')).toBe(false);
  });

  it('rolls a failing migration back completely and records only what succeeded', async () => {
    await writeFile(join(dir, '0098_good.sql'), 'CREATE TABLE good (id int);');
    await writeFile(join(dir, '0099_bad.sql'), 'CREATE TABLE half (id int);\nSELECT no_such_function();');
    const error = await migrate(pool, await loadMigrations(dir)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(MigrationError);
    expect((error as Error).message).toMatch(/0099_bad.sql failed: .*no_such_function/);
    expect(await tableExists('good')).toBe(true);
    expect(await tableExists('half')).toBe(false);
    const names = (await pool.query('SELECT name FROM schema_migrations ORDER BY name')).rows.map(
      (r) => r.name,
    );
    const project = (await loadMigrations(migrationsDir)).map((m) => m.name);
    expect(names).toEqual([...project, '0098_good.sql']);
  });

  it('rejects badly named and duplicate-numbered files before touching the database', async () => {
    await writeFile(join(dir, '0002-Bad Name.sql'), 'SELECT 1;');
    await expect(loadMigrations(dir)).rejects.toThrow(/must be named NNNN_lower_snake.sql/);
    await rm(join(dir, '0002-Bad Name.sql'));
    await writeFile(join(dir, '0001_again.sql'), 'SELECT 1;');
    await expect(loadMigrations(dir)).rejects.toThrow(/share number 0001/);
  });
});
