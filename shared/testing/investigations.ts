/** Builders for investigations in unit tests: evidence with stable ids, sensible defaults. */
import type {
  Evidence,
  EvidenceFacts,
  EvidenceKind,
  Investigation,
  StoppedTask,
} from '../domain/diagnosis.ts';

export function evidence<K extends EvidenceKind>(kind: K, facts: EvidenceFacts[K], n = 1): Evidence<K> {
  return {
    id: `${kind}:${n}`,
    kind,
    source: `test.${kind}`,
    summary: `${kind} evidence`,
    facts,
    untrusted: kind === 'logs' || kind === 'service_events',
  };
}

export const healthyService = (desired = 3, running = desired) =>
  evidence('service', {
    status: 'ACTIVE',
    desiredCount: desired,
    runningCount: running,
    pendingCount: 0,
    taskDefinition: 'api:2',
  });

export const stopped = (overrides: Partial<StoppedTask> = {}): StoppedTask => ({
  taskId: 'task-1',
  stopCode: 'EssentialContainerExited',
  stoppedReason: 'Essential container in task exited',
  exitCodes: [1],
  containerReasons: [],
  stoppedAt: '2026-11-20T10:00:00Z',
  ...overrides,
});

export function investigation(...items: Evidence[]): Investigation {
  return {
    incident: {
      incidentId: 'inc-1',
      cluster: 'shop',
      service: 'api',
      title: 'api-memory-high on shop/api',
      fingerprint: 'fp',
      openedAt: '2026-11-20T10:00:00Z',
    },
    evidence: items,
    gaps: [],
  };
}
