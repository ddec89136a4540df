/**
 * How the npm scripts under localstack/ and infra/ run: only when node was asked to run
 * that file, never when it is imported (a test importing a script for its types must start
 * nothing), and stopping the background processes they started (emulator, local database)
 * on every way out — return, throw, SIGINT, SIGTERM, process.exit.
 */
import { realpathSync } from 'node:fs';
import { constants } from 'node:os';
import { fileURLToPath } from 'node:url';
import { stopStarted, stopStartedNow } from './harness.ts';

/**
 * Whether the module whose `import.meta.url` is `moduleUrl` is the entry script (`argv1`,
 * as node or tsx received it; symlinks resolved). False when it was imported.
 */
export function isEntryScript(moduleUrl: string, argv1: string | undefined = process.argv[1]): boolean {
  if (!argv1) return false;
  try {
    return realpathSync(argv1) === realpathSync(fileURLToPath(moduleUrl));
  } catch {
    return false;
  }
}

export interface ScriptOptions {
  /**
   * What to leave running of the background processes the script started: nothing, what a
   * successful run started (local:up), or everything (--keep). A signal stops them unless 'always'.
   * @default 'never'
   */
  keep?: 'never' | 'on-success' | 'always';
  /** The line printed on stderr when `main` throws. @default the error's stack */
  describeError?: (error: unknown) => string;
}

/** `main`'s result: an exit code, or nothing for 0. */
export type ScriptMain = () => Promise<number | undefined> | Promise<void>;

const describeStack = (error: unknown) =>
  error instanceof Error ? (error.stack ?? error.message) : String(error);

/**
 * Runs `main` and returns the process exit code: `main`'s (0 when it returns nothing), 2
 * when it throws (described on stderr). Afterwards stops what this process started, as
 * `keep` says. While it runs, SIGINT/SIGTERM and `process.exit` stop those processes too
 * (SIGTERM to their process groups, no waiting) and a signal exits with 128 + its number.
 */
export async function runMain(
  main: ScriptMain,
  { keep = 'never', describeError = describeStack }: ScriptOptions = {},
) {
  const onExit = () => {
    if (keep !== 'always') stopStartedNow();
  };
  const onSignal = (signal: NodeJS.Signals) => {
    onExit();
    process.exit(128 + constants.signals[signal]);
  };
  process.once('exit', onExit);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let code: number;
  try {
    code = (await main()) ?? 0;
  } catch (error) {
    console.error(describeError(error));
    code = 2;
  }
  try {
    if (keep === 'never' || (keep === 'on-success' && code !== 0)) await stopStarted();
  } catch (error) {
    console.error(`could not stop what this run started: ${describeStack(error)}`);
    code ||= 2;
  } finally {
    process.off('exit', onExit);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  return code;
}

/**
 * Runs `main` (see `runMain`) when `moduleUrl` — the caller's `import.meta.url` — is the
 * entry script, then exits with its code (explicitly: the database driver's WebSocket keeps
 * the event loop alive). Does nothing when the module is imported.
 */
export function runScript(moduleUrl: string, main: ScriptMain, options?: ScriptOptions): void {
  if (!isEntryScript(moduleUrl)) return;
  void runMain(main, options).then((code) => process.exit(code));
}
