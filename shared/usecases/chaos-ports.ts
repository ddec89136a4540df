/** Ports of the chaos use-case; adapters in shared/adapters implement them. */
import type { Injection } from '../domain/chaos.ts';
import type { ServiceRef } from '../domain/signal.ts';

/**
 * What an injection changed, so its revert can put it back (stored with the
 * experiment). Written before each change, so a partial injection is undone
 * from it too.
 */
export interface ChaosPreState {
  desiredCount: number;
  taskDefinition: string;
  /** bad_deployment: the broken revision it deployed. */
  chaosTaskDefinition?: string;
  /** stop_tasks: the tasks it stopped (after a failure, the last one was being stopped). */
  stoppedTasks?: string[];
  /** break_dependency: the parameter's value before (null: it did not exist). */
  parameterValue?: string | null;
  /** fis: the FIS experiment it started. */
  fisExperimentId?: string;
}

export interface InjectionResult {
  preState: ChaosPreState;
  operations: string[];
}

export interface RevertResult {
  /** The fault was still in place and had to be undone (Homeostat had not repaired it). */
  needed: boolean;
  operations: string[];
}

export type ChaosRunState =
  | 'refused'
  | 'dry_run'
  | 'injecting'
  | 'injected'
  | 'reverted'
  | 'revert_failed'
  | 'failed';

export interface ChaosRun {
  id: string;
  experiment: string;
  kind: Injection['kind'];
  target: ServiceRef;
  requestedBy: string;
  idempotencyKey: string;
  state: ChaosRunState;
  guard: string | null;
  reason: string | null;
  injection: Injection | null;
  preState: ChaosPreState | null;
  expectedRootCauses: string[];
  durationMinutes: number;
  requestedAt: Date;
  injectedAt: Date | null;
  revertAt: Date | null;
  revertedAt: Date | null;
  revertAttempts: number;
  revertNeeded: boolean | null;
  revertDetail: string | null;
}

/** A run about to be written: refused, rehearsed, or reserved for injection. */
export type NewRun = Pick<
  ChaosRun,
  | 'id'
  | 'experiment'
  | 'kind'
  | 'target'
  | 'requestedBy'
  | 'idempotencyKey'
  | 'injection'
  | 'expectedRootCauses'
  | 'durationMinutes'
>;
