/**
 * Builders for remediation tests: a watched service and a policy context with
 * sensible defaults, and the offline diagnosis that starts the plan.
 */
import type { ServiceState } from '../domain/actions.ts';
import { defaultPolicySettings, type PolicyContext } from '../domain/policy.ts';
import type { CatalogAction, RootCause } from '../domain/taxonomy.ts';
import { detailTypes } from '../events/detail-types.ts';
import { buildEnvelope } from '../events/envelope.ts';

/** shop/api: 4 of 4 tasks, bounds 2–8, running api:7, known-good api:6, 512 MiB; nothing else configured. */
export const serviceState = (overrides: Partial<ServiceState> = {}): ServiceState => ({
  cluster: 'shop',
  service: 'api',
  desiredCount: 4,
  runningCount: 4,
  minTasks: 2,
  maxTasks: 8,
  taskDefinition: 'api:7',
  lastKnownGood: 'api:6',
  memoryMiB: 512,
  minimumHealthyPercent: 100,
  fallback: null,
  maintenanceTasks: [],
  secrets: [],
  ...overrides,
});

/** Everything allowed at `auto`, no history, no lease, no freeze: each test overrides what it is about. */
export const policyContext = (overrides: Partial<PolicyContext> = {}): PolicyContext => ({
  now: new Date('2026-11-20T10:00:00Z'),
  killSwitch: false,
  service: serviceState(),
  autonomy: { default: 'auto', perAction: {} },
  allowedActions: [],
  recentActions: [],
  ineffectiveRemediations: 0,
  leaseHeldBy: null,
  chaos: null,
  settings: defaultPolicySettings,
  ...overrides,
});

/** The single hypothesis of an offline diagnosis naming `rootCause` in `service`. */
export const offlineHypothesis = (rootCause: RootCause, service: string) => ({
  rootCause,
  component: service,
  confidence: 0.8,
  evidenceIds: ['ecs:1'],
  explanation: 'test',
});

/** The `diagnosis.completed` the diagnose agent publishes for that diagnosis, recommending `actions`. */
export function diagnosisCompletedEvent(d: {
  incidentId: string;
  cluster: string;
  service: string;
  rootCause: RootCause;
  actions: CatalogAction[];
  at: Date;
}) {
  return buildEnvelope({
    type: detailTypes.diagnosisCompleted,
    source: 'homeostat.diagnose',
    time: d.at,
    incidentId: d.incidentId,
    causationId: `opened-${d.incidentId}`,
    data: {
      incidentId: d.incidentId,
      service: { cluster: d.cluster, service: d.service },
      hypotheses: [offlineHypothesis(d.rootCause, d.service)],
      recommendedActions: d.actions,
      insufficientEvidence: false,
      provider: 'offline',
      model: null,
      steps: 0,
      tokens: { input: 0, output: 0 },
      costUsd: 0,
      fallbackReason: null,
      gaps: [],
      startedAt: d.at.toISOString(),
      completedAt: d.at.toISOString(),
    },
  });
}
