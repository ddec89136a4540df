/**
 * For tests that run a script against a harness of its own (a local directory and ports
 * nothing else uses) and check what it left behind.
 */
import { mkdtempSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { portListening, recordedProcesses } from './harness.ts';

/** A server listening on a port the OS picked on 127.0.0.1; close it when done. */
export async function listenOnFreePort(): Promise<{ server: Server; port: number }> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the test server has no TCP port');
  return { server, port: address.port };
}

/** A port nothing listened on a moment ago. */
export async function freePort(): Promise<number> {
  const { server, port } = await listenOnFreePort();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export interface IsolatedHarness {
  /** HOMEOSTAT_LOCAL_DIR: pid records, logs, database. */
  dir: string;
  /** The environment for the script: the test's, pointed at `dir` and the ports. */
  env: NodeJS.ProcessEnv;
  emulatorPort: number;
  pgPort: number;
  proxyPort: number;
}

/**
 * A fresh local directory and free ports for the emulator and the local database (`pgPort`
 * when given: a taken one injects a database start failure). AWS_ENDPOINT_URL is dropped, so a
 * script starts an emulator of its own, unless `env` sets it.
 */
export async function isolatedHarness({
  pgPort,
  env = {},
}: {
  pgPort?: number;
  env?: NodeJS.ProcessEnv;
} = {}): Promise<IsolatedHarness> {
  const dir = mkdtempSync(join(tmpdir(), 'homeostat-harness-'));
  const [emulatorPort, proxyPort, db] = await Promise.all([freePort(), freePort(), pgPort ?? freePort()]);
  const { AWS_ENDPOINT_URL: _ignored, ...inherited } = process.env;
  return {
    dir,
    emulatorPort,
    pgPort: db,
    proxyPort,
    env: {
      ...inherited,
      HOMEOSTAT_LOCAL_DIR: dir,
      HOMEOSTAT_EMULATOR_PORT: String(emulatorPort),
      HOMEOSTAT_DB_PORT: String(db),
      HOMEOSTAT_DB_PROXY_PORT: String(proxyPort),
      ...env,
    },
  };
}

/**
 * What a run left in `harness`: the pids recorded in its directory that are alive, and which
 * of its ports (and any port a record names) listen — except `except` (ports the test holds).
 */
export async function leftBehindIn(harness: IsolatedHarness, except: number[] = []) {
  const records = recordedProcesses(harness.dir);
  const ports = [
    ...new Set([harness.emulatorPort, harness.pgPort, harness.proxyPort, ...records.flatMap((r) => r.ports)]),
  ].filter((port) => !except.includes(port));
  const listening: number[] = [];
  for (const port of ports) if (await portListening(port)) listening.push(port);
  return { alive: records.filter((r) => r.alive).map((r) => r.pid), listening };
}

/** Kills the process groups recorded in `dir`, so a failing test leaves nothing running. */
export function killRecordedIn(dir: string): void {
  for (const record of recordedProcesses(dir)) {
    if (!record.alive) continue;
    try {
      process.kill(-record.pid, 'SIGKILL');
    } catch {
      // Gone meanwhile.
    }
  }
}
