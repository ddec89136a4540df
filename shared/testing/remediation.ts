/** Builders for planner and policy tests: a watched service and a policy context with sensible defaults. */
import type { ServiceState } from '../domain/actions.ts';
import { defaultPolicySettings, type PolicyContext } from '../domain/policy.ts';

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
