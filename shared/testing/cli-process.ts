/** The operator CLI as a real process, for tests that check what a person sees. */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** The project root (two folders above this file). */
const root = join(import.meta.dirname, '..', '..');

export interface CliRun {
  /** The exit code (0 on success). */
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `homeostat <args>` (shared/cli/homeostat.ts through tsx) with exactly `env` as its
 * environment, from the project root; resolves with the exit code and output, never rejects
 * on a non-zero exit. Times out after 60 s.
 */
export function runHomeostat(args: readonly string[], env: NodeJS.ProcessEnv): Promise<CliRun> {
  return execFileAsync(
    process.execPath,
    ['--import', 'tsx', join(root, 'shared', 'cli', 'homeostat.ts'), ...args],
    {
      cwd: root,
      env,
      timeout: 60_000,
    },
  ).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code: number; stdout: string; stderr: string }) => ({
      code: error.code,
      stdout: error.stdout,
      stderr: error.stderr,
    }),
  );
}
