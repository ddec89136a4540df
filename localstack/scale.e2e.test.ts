import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, type Pool } from '../shared/adapters/database.ts';
import { type LocalDatabase, startLocalDatabase } from './db-server.ts';
import { deleteStack, deployLocal } from './deploy-local.ts';
import { emulatorEndpoint, uniqueName } from './testing.ts';

/**
 * Services declared in context: HOMEOSTAT_SCALE_SERVICES (issue 19's figure is 500), by default 80
 * — 20 in the stack and 60 in a nested stack, every placement — because the emulator runs the
 * custom resources one after another (about N s each: see the README's figures).
 */
const services = Number(process.env.HOMEOSTAT_SCALE_SERVICES ?? 80);
/** The deploy and the delete may take this long (the emulator's custom resources are sequential). */
const budgetMs = Math.max(600_000, services * 4_000);

/**
 * Platform scale, deployed: 500 watched services declared in context deploy
 * into the emulator (the first 20 in the stack, the rest in nested stacks),
 * each registers itself through its custom resource, and deleting the stack
 * unregisters every one. Standard alarms are off: MiniStack's CloudFormation
 * rejects metric-math alarms (the CDK tests and cfn-lint cover them at 500).
 */
describe(`${services} watched services, deployed`, () => {
  const stackName = 'HomeostatScale';
  const busName = uniqueName('homeostat-scale');
  const cluster = uniqueName('fleet');
  let database: LocalDatabase;
  let pool: Pool;
  const timings: Record<string, number> = {};

  beforeAll(async () => {
    database = await startLocalDatabase();
    pool = createPool({ url: database.url, wsProxy: database.wsProxy });
    const started = Date.now();
    await deployLocal({
      endpoint: emulatorEndpoint(),
      database,
      stackName,
      busName,
      secretName: `${stackName}/database-url`,
      watchedServices: Array.from({ length: services }, (_, i) => ({
        cluster: `${cluster}-${i % 20}`,
        service: `svc-${i}`,
        standardAlarms: false,
      })),
      log: (line) => process.stderr.write(`[deploy] ${line}\n`),
    });
    timings.deploySeconds = (Date.now() - started) / 1000;
  }, budgetMs);

  afterAll(async () => {
    await deleteStack(emulatorEndpoint(), stackName, budgetMs).catch(() => {});
    await pool?.end();
    await database?.stop();
    process.stderr.write(`[scale] ${services} services: ${JSON.stringify(timings)}\n`);
  }, budgetMs);

  it('registers every service through its own custom resource', async () => {
    const { rows } = await pool.query(
      `SELECT count(*)::int AS n, count(DISTINCT registered_by)::int AS owners
         FROM watched_services WHERE cluster LIKE $1`,
      [`${cluster}-%`],
    );
    expect(rows[0]).toEqual({ n: services, owners: services });
  });

  it(
    'unregisters every service when the stack is deleted',
    async () => {
      const started = Date.now();
      await deleteStack(emulatorEndpoint(), stackName, budgetMs);
      timings.deleteSeconds = (Date.now() - started) / 1000;
      const { rows } = await pool.query(
        'SELECT count(*)::int AS n FROM watched_services WHERE cluster LIKE $1',
        [`${cluster}-%`],
      );
      expect(rows[0]).toEqual({ n: 0 });
    },
    budgetMs,
  );
});
