import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, type Pool } from '#shared/adapters/database.ts';
import { type LocalDatabase, startLocalDatabase } from '../../localstack/db-server.ts';
import { projectRoot } from '../../localstack/harness.ts';
import { migrationsDir } from '../../localstack/testing.ts';
import { handler } from './handler.ts';

const execFileAsync = promisify(execFile);

/**
 * The migrator as a deploy runs it (PGlite through the Neon driver), twice: an operator's
 * decisions made between two deploys survive the second one; what the deploy declares is updated.
 */
describe('migrator: deploys keep operator decisions', () => {
  let db: LocalDatabase;
  let pool: Pool;
  const saved = { ...process.env };
  const ref = { cluster: 'shop', service: 'api' };

  const deploy = (registration: {
    alarmPrefixes: string[];
    minTasks: number;
    maxTasks: number;
    maintenanceTasks?: string[];
  }) => {
    process.env.HOMEOSTAT_WATCHED_SERVICES = JSON.stringify([{ ...ref, ...registration }]);
    return handler();
  };
  /** `homeostat autonomy set`, as an operator runs it. */
  const autonomySet = (target: string, level: string) =>
    execFileAsync(
      process.execPath,
      [
        '--import',
        'tsx',
        `${projectRoot}/shared/cli/homeostat.ts`,
        'autonomy',
        'set',
        `${ref.cluster}/${ref.service}`,
        target,
        level,
      ],
      {
        cwd: projectRoot,
        env: { ...process.env, DATABASE_URL: db.url, DATABASE_WS_PROXY: db.wsProxy, USER: 'alice' },
      },
    );
  const row = async () =>
    (
      await pool.query(
        `SELECT alarm_prefixes, min_tasks, max_tasks, allowed_actions, autonomy, fallback, maintenance_tasks, secrets
           FROM watched_services WHERE cluster = $1 AND service = $2`,
        [ref.cluster, ref.service],
      )
    ).rows[0];

  beforeAll(async () => {
    db = await startLocalDatabase();
    pool = createPool({ url: db.url, wsProxy: db.wsProxy });
    Object.assign(process.env, {
      DATABASE_URL: db.url,
      DATABASE_WS_PROXY: db.wsProxy,
      MIGRATIONS_DIR: migrationsDir,
      HOMEOSTAT_EMBEDDING_MODEL: 'homeostat-hash-v1',
    });
  });
  afterAll(async () => {
    process.env = saved;
    await pool?.end();
    await db?.stop();
  });

  it('registers a new service with defaults for what the deploy does not declare', async () => {
    const first = await deploy({ alarmPrefixes: ['homeostat-shop-api-'], minTasks: 1, maxTasks: 10 });
    expect(first.registered).toBe(1);
    expect(first.applied.length).toBeGreaterThan(0);
    expect(await row()).toEqual({
      alarm_prefixes: ['homeostat-shop-api-'],
      min_tasks: 1,
      max_tasks: 10,
      allowed_actions: [],
      autonomy: {},
      fallback: null,
      maintenance_tasks: [],
      secrets: [],
    });
  });

  it('keeps autonomy set by an operator, and their fallback, maintenance tasks and secrets, across a redeploy', async () => {
    await autonomySet('restart_service', 'auto');
    await autonomySet('default', 'approve');
    await pool.query(
      `UPDATE watched_services
          SET allowed_actions = '{restart_service,scale_out}', fallback = '{"parameterName":"/shop/flag","value":"on"}',
              maintenance_tasks = '{shop-migrate:3}', secrets = '{shop/db}'
        WHERE cluster = $1 AND service = $2`,
      [ref.cluster, ref.service],
    );

    const again = await deploy({
      alarmPrefixes: ['homeostat-shop-api-', 'shop-legacy-'],
      minTasks: 2,
      maxTasks: 6,
    });
    expect(again).toMatchObject({ applied: [], registered: 1 });

    expect(await row()).toEqual({
      // What the deploy declares follows the deploy …
      alarm_prefixes: ['homeostat-shop-api-', 'shop-legacy-'],
      min_tasks: 2,
      max_tasks: 6,
      // … and the operator's decisions stay.
      allowed_actions: ['restart_service', 'scale_out'],
      autonomy: { default: 'approve', perAction: { restart_service: 'auto' } },
      fallback: { parameterName: '/shop/flag', value: 'on' },
      maintenance_tasks: ['shop-migrate:3'],
      secrets: ['shop/db'],
    });
    const audit = await pool.query(`SELECT actor FROM audit_log WHERE action = 'autonomy.set'`);
    expect(audit.rows).toEqual([{ actor: 'human:alice' }, { actor: 'human:alice' }]);
  });

  it('sets maintenance tasks when the deploy declares them, keeping the rest', async () => {
    await deploy({
      alarmPrefixes: ['homeostat-shop-api-'],
      minTasks: 2,
      maxTasks: 6,
      maintenanceTasks: ['shop-migrate:4'],
    });
    expect(await row()).toMatchObject({
      maintenance_tasks: ['shop-migrate:4'],
      autonomy: { default: 'approve', perAction: { restart_service: 'auto' } },
      fallback: { parameterName: '/shop/flag', value: 'on' },
      secrets: ['shop/db'],
    });
  });
});
