import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, type Pool } from '../shared/adapters/database.ts';
import { type LocalDatabase, startLocalDatabase } from './db-server.ts';
import { deleteStack, deployLocal } from './deploy-local.ts';
import { emulatorEndpoint, uniqueName } from './testing.ts';

/**
 * Services declared in context: HOMEOSTAT_SCALE_SERVICES, by default 20 — as many as the Homeostat
 * stack keeps itself. MiniStack 1.4.21 stalls on a custom resource inside a nested stack (the
 * registry agent's calls to the emulator go unanswered while the nested stack is being created), so
 * the services past the 20th, which live in nested stacks, deploy in AWS but not in the emulator;
 * the 500-service templates are checked by cfn-lint (`npm run lint:cfn`) and the CDK tests.
 */
const services = Number(process.env.HOMEOSTAT_SCALE_SERVICES ?? 20);
const budgetMs = Math.max(600_000, services * 4_000);

/**
 * Registration, deployed: the watched services declared in context deploy
 * into the emulator, each registers itself through its custom resource (one
 * after another), and deleting the stack unregisters every one. Standard alarms are off: MiniStack's CloudFormation
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
