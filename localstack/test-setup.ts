/**
 * Vitest global setup for the integ and e2e tiers: makes sure an emulator
 * answers and exposes its endpoint to the tests. Several projects may call it
 * in one run, so the start is shared through globalThis and the emulator is
 * stopped after the last of them, and only if this run started it.
 */
import type {} from 'vitest';
import type { TestProject } from 'vitest/node';
import { type EmulatorHandle, ensureEmulator, stopRecorded } from './harness.ts';

interface Shared {
  emulator?: Promise<EmulatorHandle>;
  users: number;
}

const holder = globalThis as { __homeostatEmulator?: Shared };
holder.__homeostatEmulator ??= { users: 0 };
const shared = holder.__homeostatEmulator;

export default async function setup(project: TestProject) {
  shared.users += 1;
  shared.emulator ??= ensureEmulator((line) => process.stderr.write(`[emulator] ${line}\n`));
  const { endpoint } = await shared.emulator;
  project.provide('emulatorEndpoint', endpoint);
  return async () => {
    shared.users -= 1;
    if (shared.users > 0) return;
    const handle = await shared.emulator;
    shared.emulator = undefined;
    if (handle?.started) await stopRecorded('emulator');
  };
}

declare module 'vitest' {
  export interface ProvidedContext {
    emulatorEndpoint: string;
  }
}
