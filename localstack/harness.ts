/**
 * Local harness: the AWS emulator (MiniStack in a project venv, or any
 * LocalStack-compatible endpoint) and the local knowledge database. Used by the
 * npm scripts (local:up/down/deploy, demo) and by the test global setup.
 */
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { connect } from 'node:net';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

export const projectRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
/** Where the harness keeps pid records, logs and the local database (HOMEOSTAT_LOCAL_DIR, default .local). */
export const localDir = process.env.HOMEOSTAT_LOCAL_DIR || join(projectRoot, '.local');
const venvDir = join(projectRoot, '.venv-emulator');
const requirements = join(projectRoot, 'localstack', 'requirements.txt');

/** The port the harness starts the emulator on (HOMEOSTAT_EMULATOR_PORT, default 4566). */
export const emulatorPort = portFromEnv('HOMEOSTAT_EMULATOR_PORT', 4566);
export const defaultEndpoint = `http://127.0.0.1:${emulatorPort}`;

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

/** `env[name]` as a TCP port, `fallback` when unset or empty. Throws when it is not an integer in 1–65535. */
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

export interface EnsureChromiumOptions {
  /** @default chromiumPath */
  path?: string;
  /** The path came from HOMEOSTAT_CHROMIUM (so installing Debian's package cannot help). */
  fromEnv?: boolean;
  /** May run apt-get. @default running as root */
  root?: boolean;
  log?: (line: string) => void;
}

/**
 * Makes sure the browser the HTML report test drives exists, the way `local:install` does:
 * as root, installs Debian's `chromium` with apt-get (refreshing the package lists when the
 * first try fails — a fresh machine may have none). Returns its path. Throws, saying what to
 * run, when it is missing and cannot be installed here.
 */
export function ensureChromium({
  path = chromiumPath,
  fromEnv = Boolean(process.env.HOMEOSTAT_CHROMIUM),
  root = process.getuid?.() === 0,
  log = () => {},
}: EnsureChromiumOptions = {}): string {
  if (existsSync(path)) return path;
  if (fromEnv) {
    throw new Error(
      `HOMEOSTAT_CHROMIUM=${path} does not exist: point it at a Chromium or Chrome binary, or unset it to use Debian's chromium`,
    );
  }
  if (!root) {
    throw new Error(
      `no browser at ${path} for the HTML report test: run \`sudo apt-get install chromium\` (or \`sudo npm run local:install\`), or set HOMEOSTAT_CHROMIUM to a Chromium or Chrome binary`,
    );
  }
  log('installing Debian chromium with apt-get (the HTML report is tested in a headless browser)…');
  const apt = (...args: string[]) =>
    execFileSync('apt-get', args, {
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  const install = () => apt('install', '-y', '-q', '--no-install-recommends', 'chromium');
  try {
    install();
  } catch {
    apt('update', '-q');
    install();
  }
  if (!existsSync(path)) throw new Error(`apt-get installed chromium, yet ${path} is missing`);
  return path;
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

/** What `.local/<name>.pid.json` holds for a background process the harness started. */
interface ProcessRecord {
  pid: number;
  startedAt: string;
  /** TCP ports it serves on 127.0.0.1 (older records have none). */
  ports?: number[];
}

/** The harness's background processes, by record name. */
export const harnessProcesses = ['emulator', 'database'] as const;

/**
 * The processes this process spawned, by record name → pid: what `stopStarted` stops. A
 * record that now holds another pid (someone restarted it) is not ours to stop. Kept on
 * globalThis: vitest loads this module once per project in the same process, and any of
 * those copies may be the one asked to stop.
 */
const processGlobal = globalThis as { __homeostatStartedHere?: Map<string, number> };
processGlobal.__homeostatStartedHere ??= new Map();
const startedHere = processGlobal.__homeostatStartedHere;

function pidFile(name: string, dir = localDir): string {
  return join(dir, `${name}.pid.json`);
}

function readPid(name: string, dir = localDir): ProcessRecord | undefined {
  try {
    return JSON.parse(readFileSync(pidFile(name, dir), 'utf8')) as ProcessRecord;
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

/** A background process recorded under `localDir`, and whether it still runs. */
export interface RecordedProcess {
  name: string;
  pid: number;
  /** TCP ports it serves on 127.0.0.1. */
  ports: number[];
  alive: boolean;
}

/** Every harness process recorded under `dir` (emulator, database), alive or not. */
export function recordedProcesses(dir = localDir): RecordedProcess[] {
  return harnessProcesses.flatMap((name) => {
    const record = readPid(name, dir);
    return record ? [{ name, pid: record.pid, ports: record.ports ?? [], alive: alive(record.pid) }] : [];
  });
}

/** Whether something accepts TCP connections on 127.0.0.1:`port` (answers within 1 s). */
export function portListening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    const done = (listening: boolean) => {
      socket.destroy();
      resolve(listening);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** The harness processes alive and the harness ports listening at one moment. */
export interface HarnessState {
  alive: RecordedProcess[];
  /** Of the ports the records name (and any asked about). */
  listening: number[];
}

/**
 * What of this checkout's harness runs now: recorded processes alive, and which of the ports
 * the records name — plus `ports` — listen. Only recorded ports by default: another checkout
 * on this machine may serve 4566 or 25432 at any time, and that is not this run's doing.
 */
export async function harnessState(ports: number[] = []): Promise<HarnessState> {
  const records = recordedProcesses();
  const watched = [...new Set([...records.flatMap((r) => r.ports), ...ports])];
  const answers = await Promise.all(watched.map(portListening));
  return { alive: records.filter((r) => r.alive), listening: watched.filter((_, i) => answers[i]) };
}

/** What runs in `after` that did not in `before`, one line each (empty: nothing was left behind). */
export function leftBehind(before: HarnessState, after: HarnessState): string[] {
  const pids = new Set(before.alive.map((r) => r.pid));
  const ports = new Set(before.listening);
  return [
    ...after.alive.filter((r) => !pids.has(r.pid)).map((r) => `${r.name} (pid ${r.pid}) is still running`),
    ...after.listening.filter((p) => !ports.has(p)).map((p) => `something listens on 127.0.0.1:${p}`),
  ];
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

/**
 * Starts a detached background process (its own process group), logs to `<localDir>/<name>.log`,
 * records its pid and the ports it will serve, and remembers that this process started it.
 */
function spawnRecorded(
  name: string,
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  ports: number[],
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
  closeSync(logFd);
  child.unref();
  if (!child.pid) throw new Error(`could not start ${name}`);
  const record: ProcessRecord = { pid: child.pid, startedAt: new Date().toISOString(), ports };
  writeFileSync(pidFile(name), JSON.stringify(record));
  startedHere.set(name, child.pid);
  return { pid: child.pid, logOffset };
}

/**
 * Removes the record for `name` (and the database's state file) and sends SIGTERM to its
 * process group. Synchronous, so it also works in 'exit' and signal handlers. Returns the
 * record when its process was alive.
 */
function signalRecorded(name: string): ProcessRecord | undefined {
  const record = readPid(name);
  startedHere.delete(name);
  rmSync(pidFile(name), { force: true });
  if (name === 'database') rmSync(dbStateFile, { force: true });
  if (!record || !alive(record.pid)) return undefined;
  try {
    process.kill(-record.pid, 'SIGTERM');
  } catch {
    process.kill(record.pid, 'SIGTERM');
  }
  return record;
}

/** Stops exactly the process recorded for `name` (and its process group). Returns whether one was running. */
export async function stopRecorded(name: string): Promise<boolean> {
  const record = signalRecorded(name);
  if (!record) return false;
  await waitFor(`${name} (pid ${record.pid}) to exit`, async () => !alive(record.pid), {
    timeoutMs: 15_000,
  }).catch(() => {
    try {
      process.kill(-record.pid, 'SIGKILL');
    } catch {
      // Gone between the last probe and now.
    }
  });
  return true;
}

/** The names this process started whose records still hold the pid it started. */
function ownStarted(): string[] {
  const names = [...startedHere].filter(([name, pid]) => readPid(name)?.pid === pid).map(([name]) => name);
  startedHere.clear();
  return names.reverse();
}

/**
 * Stops every background process this process started (and nothing else), last started
 * first, waiting for each to exit. Returns their names.
 */
export async function stopStarted(): Promise<string[]> {
  const names = ownStarted();
  for (const name of names) await stopRecorded(name);
  return names;
}

/**
 * `stopStarted` for 'exit' and signal handlers: sends SIGTERM to what this process started
 * and removes its records, without waiting. Returns the names.
 */
export function stopStartedNow(): string[] {
  const names = ownStarted();
  for (const name of names) signalRecorded(name);
  return names;
}

export interface EmulatorHandle {
  endpoint: string;
  /** True when this call started it (and so the caller should stop it). */
  started: boolean;
}

/**
 * Uses AWS_ENDPOINT_URL when it answers; otherwise installs (first time) and starts
 * MiniStack on 127.0.0.1:`emulatorPort` and waits for its health endpoint. When it does
 * not become healthy, stops it again and throws.
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
  const { pid, logOffset } = spawnRecorded(
    'emulator',
    join(venvDir, 'bin', 'ministack'),
    [],
    {
      ...process.env,
      ...localAwsEnv,
      BIND_HOST: '127.0.0.1',
      GATEWAY_PORT: String(emulatorPort),
      IOT_MTLS_ENABLED: '0',
      // Faster async-invoke retries locally: the shape of AWS's backoff, not its wall-clock.
      LAMBDA_ASYNC_RETRY_BASE_SECONDS: '1',
      LOG_LEVEL: 'INFO',
    },
    [emulatorPort],
  );
  log(`emulator (MiniStack) starting, pid ${pid}`);
  try {
    await waitFor(
      'the emulator health endpoint',
      async () => {
        if (!alive(pid)) throw exitedError('emulator', logPath('emulator'), logOffset);
        const res = await fetch(`${defaultEndpoint}/_ministack/health`, {
          signal: AbortSignal.timeout(2_000),
        });
        return res.ok;
      },
      { timeoutMs: 90_000 },
    );
  } catch (error) {
    await stopRecorded('emulator');
    throw error;
  }
  return { endpoint: defaultEndpoint, started: true };
}

export interface LocalDbState {
  url: string;
  wsProxy: string;
}

/** The local database as `ensureLocalDatabase` found or started it. */
export interface LocalDbHandle extends LocalDbState {
  /** True when this call started it (and so the caller should stop it). */
  started: boolean;
}

const dbStateFile = join(localDir, 'database.json');

export function readLocalDbState(): LocalDbState | undefined {
  try {
    return JSON.parse(readFileSync(dbStateFile, 'utf8')) as LocalDbState;
  } catch {
    return undefined;
  }
}

/**
 * Starts the persistent local database (PGlite under `<localDir>/pgdata`, ports
 * `localDbPorts`) as a background process, unless the recorded one still runs. When it
 * does not become ready (a port in use, say), stops it again and throws with its last log lines.
 */
export async function ensureLocalDatabase(log: (line: string) => void = () => {}): Promise<LocalDbHandle> {
  const record = readPid('database');
  const state = readLocalDbState();
  if (record && alive(record.pid) && state) return { ...state, started: false };
  rmSync(dbStateFile, { force: true });
  const { pid, logOffset } = spawnRecorded(
    'database',
    process.execPath,
    ['--import', 'tsx', join(projectRoot, 'localstack', 'db-daemon.ts')],
    { ...process.env, HOMEOSTAT_DB_STATE: dbStateFile },
    [localDbPorts.pgPort, localDbPorts.proxyPort],
  );
  log(`knowledge database (PGlite + pgvector) starting, pid ${pid}`);
  try {
    const ready = await waitFor(
      'the local database',
      async () => {
        if (!alive(pid)) throw exitedError('database', logPath('database'), logOffset);
        return readLocalDbState();
      },
      { timeoutMs: 60_000 },
    );
    return { ...ready, started: true };
  } catch (error) {
    await stopRecorded('database');
    throw error;
  }
}

/** Stops the recorded local database (whoever started it). Returns whether one was running. */
export const stopLocalDatabase = () => stopRecorded('database');
