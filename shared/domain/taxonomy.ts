/** The shared vocabulary of the loop: root causes (DESIGN taxonomy) and the action catalog's names. */

export const rootCauses = [
  'bad_deployment',
  'oom',
  'cpu_saturation',
  'crash_loop',
  'config_error',
  'dependency_failure',
  'secret_invalid',
  'image_pull_failure',
  'health_check_failure',
  'capacity_shortfall',
  'latency_degradation',
  'no_fault',
] as const;
export type RootCause = (typeof rootCauses)[number];

export const catalogActions = [
  'restart_service',
  'scale_out',
  'scale_in',
  'rollback_task_definition',
  'stop_task',
  'switch_to_fallback',
  'rotate_secret_and_redeploy',
  'run_task',
  'increase_memory',
  'escalate',
  'none',
] as const;
export type CatalogAction = (typeof catalogActions)[number];

export const isRootCause = (value: string): value is RootCause =>
  (rootCauses as readonly string[]).includes(value);
export const isCatalogAction = (value: string): value is CatalogAction =>
  (catalogActions as readonly string[]).includes(value);
