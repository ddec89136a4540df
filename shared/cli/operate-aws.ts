/**
 * The real dependencies of the operator commands: the database (DATABASE_URL,
 * DATABASE_URL_SECRET_ID, or the stack's DatabaseUrlSecretName output) and the
 * kill-switch parameter (the stack's KillSwitchParameterName output), reached
 * with the usual AWS profile/region variables (AWS_ENDPOINT_URL for the local stack).
 */
import { userInfo } from 'node:os';
import { stackOutput } from './cli-config.ts';
import type { OperateDeps } from './operate.ts';

/** A pool on the CLI's database (cli-config.ts databaseUrl: DATABASE_URL, DATABASE_URL_SECRET_ID or the stack's secret). */
export async function cliPool(stack: string) {
  const [{ createPool }, { databaseUrl }] = await Promise.all([
    import('../adapters/database.ts'),
    import('./cli-config.ts'),
  ]);
  return createPool({ url: await databaseUrl(stack), wsProxy: process.env.DATABASE_WS_PROXY });
}

export const cliUser = () => `human:${process.env.USER ?? userInfo().username}`;

export async function awsOperateDeps(
  stack: string,
  pool: () => Promise<Awaited<ReturnType<typeof cliPool>>>,
) {
  const [
    { PostgresIncidentViews },
    { PostgresAutonomyRegistry },
    { SSMClient },
    { appendAudit },
    { isEngagedValue },
    { readParameter, writeParameter },
  ] = await Promise.all([
    import('../adapters/incident-views.ts'),
    import('../adapters/autonomy-registry.ts'),
    import('@aws-sdk/client-ssm'),
    import('../adapters/audit-log.ts'),
    import('../adapters/kill-switch.ts'),
    import('../adapters/parameters.ts'),
  ]);
  const lazyViews = async () => new PostgresIncidentViews(await pool());
  const lazyRegistry = async () => new PostgresAutonomyRegistry(await pool());
  const parameter = async () =>
    process.env.HOMEOSTAT_KILL_SWITCH_PARAMETER || (await stackOutput(stack, 'KillSwitchParameterName'));
  const ssm = new SSMClient({});
  const deps: OperateDeps = {
    user: cliUser(),
    incidents: {
      list: async (f) => (await lazyViews()).list(f),
      story: async (id) => (await lazyViews()).story(id),
      timeline: async (id) => (await lazyViews()).timeline(id),
      resolveId: async (p) => (await lazyViews()).resolveId(p),
    },
    autonomy: {
      get: async (ref) => (await lazyRegistry()).get(ref),
      recommendations: async (f) => (await lazyRegistry()).recommendations(f),
      set: async (ref, action, level, by) => (await lazyRegistry()).set(ref, action, level, by),
    },
    killSwitch: {
      async read() {
        const name = await parameter();
        const value = await readParameter(ssm, name);
        return { engaged: isEngagedValue(value), value, parameter: name };
      },
      async set(on, by) {
        const name = await parameter();
        await writeParameter(ssm, name, on ? 'on' : 'off');
        // The audit log records who pulled the switch, when the database is reachable.
        const inputs = { parameter: name, value: on ? 'on' : 'off' };
        try {
          await appendAudit(await pool(), [
            { actor: by, action: 'kill_switch.set', inputs, result: on ? 'engaged' : 'released' },
          ]);
        } catch (error) {
          process.stderr.write(
            `warning: the kill switch is ${on ? 'on' : 'off'}, but the audit log could not be written: ${(error as Error).message}\n`,
          );
        }
      },
    },
  };
  return { deps, close: () => ssm.destroy() };
}
