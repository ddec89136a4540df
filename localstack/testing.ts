/** Helpers for the integ and e2e tiers, on the emulator the global setup provided. */
import { inject } from 'vitest';
import { localClientConfig } from './deploy-local.ts';
import { captureEvents as captureOn, type EventCapture } from './fixtures.ts';
import type { startMigratedDatabase } from './migrate-local.ts';

export { createEcsService, type EventCapture, putAlarmInState, uniqueName } from './fixtures.ts';

export const emulatorEndpoint = () => inject('emulatorEndpoint');
export const emulatorClientConfig = () => localClientConfig(emulatorEndpoint());

/** Captures `detailType` events from `busName` into a fresh queue on the test emulator. */
export const captureEvents = (busName: string, detailType: string): Promise<EventCapture> =>
  captureOn(emulatorClientConfig(), busName, detailType);

export { migrationsDir, startMigratedDatabase } from './migrate-local.ts';
export type TestDatabase = Awaited<ReturnType<typeof startMigratedDatabase>>;
