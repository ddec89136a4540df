/**
 * Vitest global setup for every tier. For the integ and e2e tiers it makes sure an emulator
 * answers and exposes its endpoint to the tests. Several projects call it in one run, so
 * the start is shared through globalThis; after the last of them it stops what this run
 * started (also on SIGINT/SIGTERM, through the 'exit' handler) and then fails the run when
 * a harness process recorded in this checkout, or a port such a process served, is left
 * running that was not before the run (a test or an imported script that started the
 * emulator or the local database and did not stop it).
 */
import type {} from 'vitest';
import type { TestProject } from 'vitest/node';
import {
  type EmulatorHandle,
  ensureEmulator,
  type HarnessState,
  harnessState,
  leftBehind,
  recordedProcesses,
  stopRecorded,
  stopStarted,
  stopStartedNow,
  waitFor,
} from './harness.ts';

interface Shared {
  emulator?: Promise<EmulatorHandle>;
  before?: Promise<HarnessState>;
  users: number;
}

const holder = globalThis as { __homeostatEmulator?: Shared };
holder.__homeostatEmulator ??= { users: 0 };
const shared = holder.__homeostatEmulator;

/**
 * After stopping what this run started: what of the harness runs that did not before the run
 * (processes recorded in this checkout, and the ports recorded processes served during the run,
 * `served`), waiting a little for processes on their way out. Stops what is left; returns it.
 */
async function clearLeftovers(before: HarnessState, served: number[]): Promise<string[]> {
  let left: string[] = [];
  await waitFor(
    'the harness to be back as it was',
    async () => {
      left = leftBehind(before, await harnessState(served));
      return left.length === 0;
    },
    { timeoutMs: 5_000 },
  ).catch(() => {});
  if (left.length === 0) return left;
  const pids = new Set(before.alive.map((r) => r.pid));
  for (const record of (await harnessState()).alive)
    if (!pids.has(record.pid)) await stopRecorded(record.name);
  return left;
}

export default async function setup(project: TestProject) {
  shared.users += 1;
  if (shared.users === 1) process.once('exit', stopStartedNow); // vitest exits on SIGINT/SIGTERM without teardown
  shared.before ??= harnessState();
  const before = await shared.before;
  if (project.name !== 'unit') {
    shared.emulator ??= ensureEmulator((line) => process.stderr.write(`[emulator] ${line}\n`));
    project.provide('emulatorEndpoint', (await shared.emulator).endpoint);
  }
  return async () => {
    shared.users -= 1;
    if (shared.users > 0) return;
    shared.emulator = undefined;
    shared.before = undefined;
    process.off('exit', stopStartedNow);
    const served = recordedProcesses().flatMap((r) => r.ports); // before stopping removes the records
    await stopStarted();
    const left = await clearLeftovers(before, served);
    if (left.length > 0) {
      process.exitCode = 1;
      throw new Error(
        `the test run left harness processes or ports behind (now stopped): ${left.join('; ')}. ` +
          'Whatever starts the emulator or the local database must stop it; scripts must act only when run.',
      );
    }
  };
}

declare module 'vitest' {
  export interface ProvidedContext {
    emulatorEndpoint: string;
  }
}
