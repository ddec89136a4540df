import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, type Pool } from '#shared/adapters/database.ts';
import { type LocalDatabase, startLocalDatabase } from '../../localstack/db-server.ts';
import { projectRoot } from '../../localstack/harness.ts';
import { migrationsDir } from '../../localstack/testing.ts';
import { handler as migrate } from '../migrator/handler.ts';
import { handler, register } from './handler.ts';

const execFileAsync = promisify(execFile);

const stackId = 'arn:aws:cloudformation:eu-west-1:111111111111:stack/Shop/1';

/** A custom-resource request as CloudFormation sends it: every property a string. */
function request(
  type: 'Create' | 'Update' | 'Delete',
  properties: Record<string, unknown>,
  extra: { physicalId?: string; stackId?: string; logicalId?: string } = {},
): CloudFormationCustomResourceEvent {
  const strings = JSON.parse(
    JSON.stringify(properties, (_k, v) => (typeof v === 'number' ? String(v) : v)),
  ) as Record<string, unknown>;
  const common = {
    ServiceToken: 'arn:aws:lambda:eu-west-1:111111111111:function:registry',
    ResponseURL: 'https://cloudformation-custom-resource-response.example/',
    StackId: extra.stackId ?? stackId,
    RequestId: `req-${Math.random()}`,
    LogicalResourceId: extra.logicalId ?? 'ApiRegistration',
    ResourceType: 'Custom::HomeostatWatchedService',
    ResourceProperties: { ServiceToken: 'x', ...strings },
  };
  if (type === 'Create') return { ...common, RequestType: 'Create' };
  if (type === 'Update')
    return {
      ...common,
      RequestType: 'Update',
      PhysicalResourceId: extra.physicalId ?? 'shop/api',
      OldResourceProperties: common.ResourceProperties,
    };
  return { ...common, RequestType: 'Delete', PhysicalResourceId: extra.physicalId ?? 'shop/api' };
}

/**
 * The registry's custom resource as CloudFormation drives it (PGlite through the Neon driver):
 * an operator's decisions made between two deploys survive the second one; what the deploy
 * declares is updated; a delete unregisters only what this registration declared.
 */
describe('registry: deploys keep operator decisions', () => {
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
    return register(request('Update', { ...ref, ...registration }));
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
    await migrate();
  });
  afterAll(async () => {
    process.env = saved;
    await pool?.end();
    await db?.stop();
  });

  it('registers a new service with defaults for what the deploy does not declare', async () => {
    const first = await register(
      request('Create', { ...ref, alarmPrefixes: ['homeostat-shop-api-'], minTasks: 1, maxTasks: 10 }),
    );
    expect(first).toEqual({
      PhysicalResourceId: 'shop/api',
      Data: { Cluster: 'shop', Service: 'api', Outcome: 'registered' },
    });
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
    expect(again.PhysicalResourceId).toBe('shop/api');

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

  it('refuses invalid properties with the reason, and registers nothing', async () => {
    await expect(
      register(
        request('Create', { cluster: 'shop', service: 'bad', alarmPrefixes: [], minTasks: 5, maxTasks: 2 }),
      ),
    ).rejects.toThrow(/maxTasks must be at least minTasks/);
    const left = await pool.query(`SELECT 1 FROM watched_services WHERE service = 'bad'`);
    expect(left.rowCount).toBe(0);
  });

  it('rolls back a failed create without touching the database: nothing was registered under its id', async () => {
    const rollback = request(
      'Delete',
      { cluster: 'shop', service: 'bad', alarmPrefixes: [], minTasks: 5, maxTasks: 2 },
      { physicalId: 'req-123' },
    );
    expect((await register(rollback)).Data.Outcome).toBe('absent');
  });

  it('refuses a second declaration of a service, naming the first; its rollback and a delete by anyone else leave it watched', async () => {
    const props = { ...ref, alarmPrefixes: ['homeostat-shop-api-'], minTasks: 2, maxTasks: 6 };
    const other = { stackId: `${stackId}-other` };
    await expect(register(request('Create', { ...props, minTasks: 5, maxTasks: 9 }, other))).rejects.toThrow(
      /shop\/api is already declared by arn:aws:cloudformation:eu-west-1:111111111111:stack\/Shop\/1\/ApiRegistration/,
    );
    // The refused Create answered FAILED with an id of its own: the rollback touches nothing.
    expect(
      (await register(request('Delete', props, { ...other, physicalId: 'unregistered:r-1' }))).Data.Outcome,
    ).toBe('absent');
    // A Delete from a registration that does not hold the service (same physical id) keeps it.
    expect((await register(request('Delete', props, other))).Data.Outcome).toBe('kept');
    expect(await row()).toMatchObject({ min_tasks: 2, max_tasks: 6, autonomy: { default: 'approve' } });

    const gone = await register(request('Delete', props));
    expect(gone.Data.Outcome).toBe('removed');
    expect(await row()).toBeUndefined();
    expect((await register(request('Delete', props))).Data.Outcome).toBe('absent');
    // Once nobody declares it, another registration may.
    await register(request('Create', props, other));
    expect(await row()).toMatchObject({ min_tasks: 2 });
    await register(request('Delete', props, other));
  });

  it('a rename registers the new service; CloudFormation then deletes the old one by its physical id', async () => {
    const props = { cluster: 'shop', alarmPrefixes: ['p-'], minTasks: 1, maxTasks: 3 };
    await register(request('Create', { ...props, service: 'web' }));
    const renamed = await register(
      request('Update', { ...props, service: 'web2' }, { physicalId: 'shop/web' }),
    );
    expect(renamed.PhysicalResourceId).toBe('shop/web2');
    await register(request('Delete', { ...props, service: 'web' }, { physicalId: 'shop/web' }));
    const rows = await pool.query(
      `SELECT service FROM watched_services WHERE cluster = 'shop' ORDER BY service`,
    );
    expect(rows.rows).toEqual([{ service: 'web2' }]);
  });

  describe('answering CloudFormation through the ResponseURL', () => {
    let server: Server;
    const bodies: Record<string, unknown>[] = [];
    let url = '';
    beforeAll(async () => {
      server = createServer((req, res) => {
        let text = '';
        req.on('data', (chunk) => {
          text += chunk;
        });
        req.on('end', () => {
          bodies.push({ method: req.method, contentType: req.headers['content-type'], ...JSON.parse(text) });
          res.end();
        });
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/response`;
    });
    afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

    it('PUTs SUCCESS with the physical id and data, or FAILED with the reason and an id no delete mistakes', async () => {
      const ok = request('Create', {
        cluster: 'shop',
        service: 'cart',
        alarmPrefixes: ['c-'],
        minTasks: 1,
        maxTasks: 2,
      });
      await handler({ ...ok, ResponseURL: url });
      const bad = request('Create', {
        cluster: 'shop',
        service: 'bad',
        alarmPrefixes: [],
        minTasks: 3,
        maxTasks: 1,
      });
      await handler({ ...bad, ResponseURL: url });
      expect(bodies).toEqual([
        {
          method: 'PUT',
          contentType: '',
          Status: 'SUCCESS',
          PhysicalResourceId: 'shop/cart',
          Data: { Cluster: 'shop', Service: 'cart', Outcome: 'registered' },
          StackId: stackId,
          RequestId: ok.RequestId,
          LogicalResourceId: 'ApiRegistration',
        },
        {
          method: 'PUT',
          contentType: '',
          Status: 'FAILED',
          Reason: expect.stringMatching(/maxTasks must be at least minTasks/),
          PhysicalResourceId: `unregistered:${bad.RequestId}`,
          StackId: stackId,
          RequestId: bad.RequestId,
          LogicalResourceId: 'ApiRegistration',
        },
      ]);
    });

    it('throws when CloudFormation cannot be answered, so Lambda retries the request', async () => {
      const ok = request(
        'Update',
        { cluster: 'shop', service: 'cart', alarmPrefixes: ['c-'], minTasks: 1, maxTasks: 2 },
        { physicalId: 'shop/cart' },
      );
      await expect(handler({ ...ok, ResponseURL: 'http://127.0.0.1:9/closed' })).rejects.toThrow();
    });
  });
});
