import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrationsDir, startMigratedDatabase, type TestDatabase } from '../../localstack/testing.ts';
import { PostgresAutonomyRegistry } from '../adapters/autonomy-registry.ts';
import { PostgresPerceptionStore } from '../adapters/perception-store.ts';
import { ecsMetricAlarmEvent } from '../testing/alarm-events.ts';
import { FakeAlarmTags, FakeBus, FakeCounters, FakeEcs, fixedClock, watched } from '../testing/fakes.ts';
import { perceive } from '../usecases/perceive.ts';
import { loadMigrations } from './migrate.ts';

/**
 * The agents' database role (migration 0010) on PGlite through the Neon driver. PGlite
 * serves every connection from one session, so `SET ROLE` there applies to the whole
 * pool: the agents' stores then run exactly as the runtime role. (The session user stays
 * PGlite's superuser, so only privileges are tested here, not who may SET ROLE back; in
 * Neon the agents' login is a member of homeostat_runtime and nothing more.)
 */
describe('the runtime role', () => {
  let database: TestDatabase;
  const ref = { cluster: 'shop', service: 'roles' };

  beforeAll(async () => {
    database = await startMigratedDatabase();
    // The deploy (schema owner) registers the service and has written an audit row.
    await new PostgresPerceptionStore(database.pool, {}, 0).registerService(
      watched(ref.cluster, ref.service),
    );
    await database.pool.query(
      `INSERT INTO audit_log (actor, action, inputs_hash, inputs, result) VALUES ('owner', 'seed', repeat('0', 64), '{}', 'ok')`,
    );
    await database.pool.query('SET ROLE homeostat_runtime');
  });
  afterAll(async () => database?.stop());

  const asRuntime = async (sql: string) => {
    expect((await database.pool.query('SELECT current_user AS who')).rows[0]?.who).toBe('homeostat_runtime');
    return database.pool.query(sql);
  };

  it('is a NOLOGIN role that owns nothing, created once (the migration runs again unchanged)', async () => {
    const sql = (await loadMigrations(migrationsDir)).find((m) => m.name.startsWith('0010_'))?.sql ?? '';
    expect(sql).toMatch(/homeostat_runtime/);
    await database.pool.query('RESET ROLE');
    await database.pool.query(sql);
    await database.pool.query('SET ROLE homeostat_runtime');
    const { rows } = await database.pool.query(
      `SELECT rolcanlogin, rolsuper, rolcreaterole, rolcreatedb, rolbypassrls,
              (SELECT count(*)::int FROM pg_class c WHERE c.relowner = r.oid) AS owned
         FROM pg_roles r WHERE rolname = 'homeostat_runtime'`,
    );
    expect(rows).toEqual([
      {
        rolcanlogin: false,
        rolsuper: false,
        rolcreaterole: false,
        rolcreatedb: false,
        rolbypassrls: false,
        owned: 0,
      },
    ]);
  });

  it("runs the agents' writes: an incident opened from an alarm, an audited autonomy change", async () => {
    const store = new PostgresPerceptionStore(database.pool, {}, 0);
    const result = await perceive(
      ecsMetricAlarmEvent({ ...ref, alarmName: 'roles-cpu-high', state: 'ALARM' }),
      {
        store,
        bus: new FakeBus(),
        ecs: new FakeEcs(),
        alarmTags: new FakeAlarmTags(),
        counters: new FakeCounters(),
        clock: fixedClock(new Date().toISOString()),
      },
    );
    expect(result.outcome).toBe('opened');
    await new PostgresAutonomyRegistry(database.pool).set(ref, 'scale_out', 'approve', 'alice');
    const audit = await asRuntime(`SELECT actor, action FROM audit_log ORDER BY id`);
    expect(audit.rows).toContainEqual({ actor: 'alice', action: 'autonomy.set' });
    const timeline = await asRuntime('SELECT count(*)::int AS n FROM incident_timeline');
    expect(timeline.rows[0]?.n).toBeGreaterThan(0);
  });

  it.each([
    ['ALTER TABLE', 'ALTER TABLE audit_log ADD COLUMN note text', /must be owner/],
    ['DISABLE TRIGGER', 'ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only', /must be owner/],
    ['DROP TRIGGER', 'DROP TRIGGER audit_log_append_only ON audit_log', /must be owner/],
    ['DROP TABLE', 'DROP TABLE watched_services', /must be owner/],
    ['CREATE TABLE', 'CREATE TABLE scratch (id int)', /permission denied for schema public/],
    ['UPDATE audit_log', `UPDATE audit_log SET actor = 'mallory'`, /permission denied for table audit_log/],
    ['DELETE audit_log', 'DELETE FROM audit_log', /permission denied for table audit_log/],
    ['TRUNCATE audit_log', 'TRUNCATE audit_log', /permission denied for table audit_log/],
    [
      'UPDATE timeline',
      `UPDATE incident_timeline SET kind = 'x'`,
      /permission denied for table incident_timeline/,
    ],
    ['DELETE outcomes', 'DELETE FROM outcomes', /permission denied for table outcomes/],
    [
      'skip triggers',
      'SET session_replication_role = replica',
      /permission denied to set parameter "session_replication_role"/,
    ],
    ['record a migration', `INSERT INTO schema_migrations VALUES ('9999_x.sql', 'x')`, /permission denied/],
  ])('refuses %s', async (_name, sql, error) => {
    await expect(asRuntime(sql)).rejects.toThrow(error);
  });

  it('left the audit log as the agents wrote it', async () => {
    const { rows } = await asRuntime(`SELECT count(*)::int AS n FROM audit_log WHERE actor = 'mallory'`);
    expect(rows[0]?.n).toBe(0);
  });
});
