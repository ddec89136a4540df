/**
 * Local harness: the AWS emulator (MiniStack in a project venv, or any
 * LocalStack-compatible endpoint) and the local knowledge database. Used by the
 * npm scripts (local:up/down/deploy, demo) and by the test global setup.
 */
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export const projectRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
export const localDir = join(projectRoot, '.local');
const venvDir = join(projectRoot, '.venv-emulator');
const requirements = join(projectRoot, 'localstack', 'requirements.txt');

export const defaultEndpoint = 'http://127.0.0.1:4566';

/** The browser the report test drives (Debian's chromium unless HOMEOSTAT_CHROMIUM says otherwise). */
export const chromiumPath = process.env.HOMEOSTAT_CHROMIUM ?? '/usr/bin/chromium';
/**
 * Fixed local ports for `local:up` (in-process test databases pick free ones). Below 32768 on
 * purpose: Linux hands out 32768–60999 (macOS 49152–65535) as the local ports of
 * outgoing connections, and a listener cannot bind a port that an open or TIME_WAIT
 * client socket holds, so a default in that range fails now and then on a busy machine.
 */
export const localDbPorts = {
  pgPort: portFromEnv('HOMEOSTAT_DB_PORT', 25432),
  proxyPort: portFromEnv('HOMEOSTAT_DB_PROXY_PORT', 25433),
};

export function portFromEnv(name: string, fallback: number, env: NodeJS.ProcessEnv = process.env): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65_535) {
    throw new Error(`${name}=${raw} is not a TCP port (1–65535)`);
  }
  return port;
}

/** The dummy credentials and region every local client uses. */
export const localAwsEnv = {
  AWS_ACCESS_KEY_ID: 'test',
  AWS_SECRET_ACCESS_KEY: 'test',
  AWS_REGION: 'us-east-1',
  AWS_DEFAULT_REGION: 'us-east-1',
};

/** Thrown by a `waitFor` probe when waiting longer cannot help (the process it waits for died). */
export class GaveUpWaiting extends Error {}

/** Polls `probe` until it returns a value or the deadline passes. No fixed sleeps. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false>,
  { timeoutMs = 60_000, intervalMs = 250 } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      if (error instanceof GaveUpWaiting) throw error;
      lastError = error;
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
  const detail = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${detail}`);
}

export async function endpointAnswers(endpoint: string): Promise<boolean> {
  try {
    // Any HTTP answer means something is listening; MiniStack and LocalStack both answer /_localstack/health.
    const res = await fetch(`${endpoint}/_localstack/health`, { signal: AbortSignal.timeout(2_000) });
    return res.status < 500;
  } catch {
    return false;
  }
}

/**
 * Makes `dir` a Python venv holding exactly the pins of `requirementsFile`: creates it
 * (with $PYTHON or python3) and runs `pip install -r` unless a stamp of the file's sha256
 * says it is already done. Throws (pip's own output on stderr) when pip fails; the stamp
 * is written only after a successful install, so a failed one is retried next time.
 */
export function ensurePythonVenv(
  dir: string,
  requirementsFile: string,
  what: string,
  log: (line: string) => void = () => {},
): void {
  const stamp = join(dir, '.requirements.sha256');
  const wanted = createHash('sha256').update(readFileSync(requirementsFile)).digest('hex');
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === wanted) return;
  log(
    `installing ${what} into ${relative(projectRoot, dir)} (pins: ${relative(projectRoot, requirementsFile)}) — first run only`,
  );
  if (!existsSync(join(dir, 'bin', 'python'))) {
    execFileSync(process.env.PYTHON ?? 'python3', ['-m', 'venv', dir], { stdio: 'inherit' });
  }
  execFileSync(
    join(dir, 'bin', 'pip'),
    ['install', '--quiet', '--disable-pip-version-check', '-r', requirementsFile],
    {
      stdio: 'inherit',
    },
  );
  writeFileSync(stamp, wanted);
}

/** Installs the pinned emulator into .venv-emulator unless it is already there with the same pins. */
export function ensureEmulatorInstalled(log: (line: string) => void = () => {}): void {
  ensurePythonVenv(venvDir, requirements, 'the emulator (MiniStack)', log);
}

const cfnLintVenvDir = join(projectRoot, '.venv-cfn-lint');
const cfnLintRequirements = join(projectRoot, 'infra', 'cfn-lint-requirements.txt');

/** The pinned cfn-lint executable (in .venv-cfn-lint, installed by `npm run local:install`). */
export const cfnLintPath = join(cfnLintVenvDir, 'bin', 'cfn-lint');

/** Installs the pinned cfn-lint into .venv-cfn-lint unless it is already there with the same pins. */
export function ensureCfnLintInstalled(log: (line: string) => void = () => {}): void {
  ensurePythonVenv(cfnLintVenvDir, cfnLintRequirements, 'cfn-lint', log);
}

interface ProcessRecord {
  pid: number;
  startedAt: string;
}

function pidFile(name: string): string {
  return join(localDir, `${name}.pid.json`);
}

function readPid(name: string): ProcessRecord | undefined {
  try {
    return JSON.parse(readFileSync(pidFile(name), 'utf8')) as ProcessRecord;
  } catch {
    return undefined;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function logPath(name: string): string {
  return join(localDir, `${name}.log`);
}

/**
 * The error for a background process that died while starting, with what it wrote
 * to its log this time: on CI the log file is gone with the clone, the error stays.
 */
export function exitedError(name: string, logFile: string, logOffset: number): GaveUpWaiting {
  let lines: string[] = [];
  try {
    lines = readFileSync(logFile).subarray(logOffset).toString('utf8').trimEnd().split('\n');
  } catch {
    // No log to quote: the message still says where to look.
  }
  const tail = lines.slice(-20).join('\n');
  return new GaveUpWaiting(`${name} exited; see ${logFile}${tail ? `. Its last lines:\n${tail}` : ''}`);
}

/** Starts a detached background process, logs to .local/<name>.log, records its pid. */
function spawnRecorded(
  name: string,
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): { pid: number; logOffset: number } {
  mkdirSync(localDir, { recursive: true });
  const logOffset = existsSync(logPath(name)) ? statSync(logPath(name)).size : 0;
  const logFd = openSync(logPath(name), 'a');
  const child = spawn(command, args, {
    cwd: projectRoot,
    env,
    detached: true,
    stdio: ['ignore', logFd, logFd],
  });
  child.unref();
  if (!child.pid) throw new Error(`could not start ${name}`);
  writeFileSync(pidFile(name), JSON.stringify({ pid: child.pid, startedAt: new Date().toISOString() }));
  return { pid: child.pid, logOffset };
}

/** Stops exactly the process recorded for `name` (and its process group). Returns whether one was running. */
export async function stopRecorded(name: string): Promise<boolean> {
  const record = readPid(name);
  if (!record) return false;
  rmSync(pidFile(name), { force: true });
  if (!alive(record.pid)) return false;
  try {
    process.kill(-record.pid, 'SIGTERM');
  } catch {
    process.kill(record.pid, 'SIGTERM');
  }
  await waitFor(`${name} (pid ${record.pid}) to exit`, async () => !alive(record.pid), {
    timeoutMs: 15_000,
  }).catch(() => process.kill(-record.pid, 'SIGKILL'));
  return true;
}

export interface EmulatorHandle {
  endpoint: string;
  /** True when this call started it (and so the caller should stop it). */
  started: boolean;
}

/**
 * Uses AWS_ENDPOINT_URL when it answers; otherwise installs (first time) and
 * starts MiniStack on 127.0.0.1:4566 and waits for its health endpoint.
 */
export async function ensureEmulator(log: (line: string) => void = () => {}): Promise<EmulatorHandle> {
  const configured = process.env.AWS_ENDPOINT_URL;
  if (configured && (await endpointAnswers(configured))) return { endpoint: configured, started: false };
  if (configured && configured !== defaultEndpoint) {
    throw new Error(
      `AWS_ENDPOINT_URL=${configured} does not answer; start that emulator or unset the variable`,
    );
  }
  if (await endpointAnswers(defaultEndpoint)) return { endpoint: defaultEndpoint, started: false };
  ensureEmulatorInstalled(log);
  const { pid, logOffset } = spawnRecorded('emulator', join(venvDir, 'bin', 'ministack'), [], {
    ...process.env,
    ...localAwsEnv,
    BIND_HOST: '127.0.0.1',
    GATEWAY_PORT: '4566',
    IOT_MTLS_ENABLED: '0',
    // Faster async-invoke retries locally: the shape of AWS's backoff, not its wall-clock.
    LAMBDA_ASYNC_RETRY_BASE_SECONDS: '1',
    LOG_LEVEL: 'INFO',
  });
  log(`emulator (MiniStack) starting, pid ${pid}`);
  await waitFor(
    'the emulator health endpoint',
    async () => {
      if (!alive(pid)) throw exitedError('emulator', logPath('emulator'), logOffset);
      const res = await fetch(`${defaultEndpoint}/_ministack/health`, { signal: AbortSignal.timeout(2_000) });
      return res.ok;
    },
    { timeoutMs: 90_000 },
  );
  return { endpoint: defaultEndpoint, started: true };
}

export interface LocalDbState {
  url: string;
  wsProxy: string;
}

const dbStateFile = join(localDir, 'database.json');

export function readLocalDbState(): LocalDbState | undefined {
  try {
    return JSON.parse(readFileSync(dbStateFile, 'utf8')) as LocalDbState;
  } catch {
    return undefined;
  }
}

/** Starts the persistent local database (PGlite under .local/pgdata) as a background process. */
export async function ensureLocalDatabase(log: (line: string) => void = () => {}): Promise<LocalDbState> {
  const record = readPid('database');
  const state = readLocalDbState();
  if (record && alive(record.pid) && state) return state;
  rmSync(dbStateFile, { force: true });
  const { pid, logOffset } = spawnRecorded(
    'database',
    process.execPath,
    ['--import', 'tsx', join(projectRoot, 'localstack', 'db-daemon.ts')],
    { ...process.env, HOMEOSTAT_DB_STATE: dbStateFile },
  );
  log(`knowledge database (PGlite + pgvector) starting, pid ${pid}`);
  return waitFor(
    'the local database',
    async () => {
      if (!alive(pid)) throw exitedError('database', logPath('database'), logOffset);
      return readLocalDbState();
    },
    { timeoutMs: 60_000 },
  );
}

export const stopLocalDatabase = async () => {
  const stopped = await stopRecorded('database');
  rmSync(dbStateFile, { force: true });
  return stopped;
};
