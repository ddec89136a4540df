/**
 * Mechanisms: how a failure happens, one level finer than its root cause, and
 * what each catalog action can and cannot change about it. A root cause
 * (`oom`) says what kind of failure it is; the mechanism (`memory_leak` or
 * `undersized_memory`) decides the repair — a restart resets a leak, more
 * memory only postpones it. Data, read by the effect model (judgement.ts),
 * the diagnosis and the escalation text. Pure.
 */
import type { CatalogAction, RootCause } from './taxonomy.ts';

export const mechanisms = [
  // Start-up failures: the task never runs the application.
  'architecture_mismatch',
  'image_not_found',
  'registry_auth_failed',
  'registry_rate_limited',
  'egress_blocked',
  'secret_access_denied',
  'secret_not_found',
  'secret_malformed',
  'log_destination_missing',
  'entrypoint_missing',
  'ephemeral_storage',
  'task_role_invalid',
  // Placement: the scheduler cannot find room for the task.
  'placement_capacity',
  'capacity_ceiling',
  // Running tasks that die or degrade.
  'undersized_memory',
  'memory_leak',
  'poison_input',
  'deterministic_crash',
  'code_regression',
  'config_change',
  'config_missing',
  'hung_process',
  'health_check_coupling',
  'health_check_misconfigured',
  'dependency_unavailable',
  'dependency_full',
  'credentials_rejected',
  'downstream_bound',
  'cpu_bound',
  'fd_limit',
  'clock_skew',
  // Not faults: ECS or the platform did what it was asked to.
  'shutdown_kill',
  'spot_interruption',
  'deployment_completed',
] as const;
export type Mechanism = (typeof mechanisms)[number];

export const isMechanism = (value: unknown): value is Mechanism =>
  typeof value === 'string' && (mechanisms as readonly string[]).includes(value);

export interface MechanismSpec {
  /** The root cause this mechanism belongs to when nothing says otherwise. */
  rootCause: RootCause;
  /** One line: what happens. */
  summary: string;
  /** Catalog actions that can change this mechanism (each still needs its own indications). */
  canFix: CatalogAction[];
  /** Catalog actions that cannot, and why: the planner never plans them for this mechanism. */
  cannotFix: Partial<Record<CatalogAction, string>>;
  /** What a human should do when no action can (or none is allowed). */
  fix: string;
}

const restartCannot = 'a new task runs the same image and configuration and fails the same way';
const scaleCannot = 'more tasks fail the same way; scaling adds failures, not capacity';
const memoryCannot = 'memory is not what fails';
const rotateCannot = 'the secret value is not what fails';

/** Every mechanism's effects. One place: signatures, the diagnosis and the planner read it. */
export const mechanismSpecs: Readonly<Record<Mechanism, MechanismSpec>> = {
  architecture_mismatch: {
    rootCause: 'bad_deployment',
    summary: "the image's binaries are built for another CPU architecture than the task's platform",
    canFix: ['rollback_task_definition'],
    cannotFix: {
      restart_service: 'a restart runs the same wrongly-built image',
      scale_out: scaleCannot,
      increase_memory: memoryCannot,
      rotate_secret_and_redeploy: rotateCannot,
    },
    fix: "rebuild the image for the platform the task runs on (docker buildx --platform linux/amd64, or linux/arm64) or set the task definition's runtimePlatform.cpuArchitecture to match the image",
  },
  image_not_found: {
    rootCause: 'image_pull_failure',
    summary: 'the image reference names a repository, tag or digest the registry does not have',
    canFix: ['rollback_task_definition'],
    cannotFix: {
      restart_service: 'a restart pulls the same missing image',
      scale_out: scaleCannot,
      increase_memory: memoryCannot,
      rotate_secret_and_redeploy: rotateCannot,
    },
    fix: 'push the missing tag or correct the image reference in the task definition',
  },
  registry_auth_failed: {
    rootCause: 'image_pull_failure',
    summary: 'the registry refuses the pull: the execution role or registry credentials lack access',
    canFix: ['rollback_task_definition'],
    cannotFix: {
      restart_service: restartCannot,
      scale_out: scaleCannot,
      increase_memory: memoryCannot,
    },
    fix: 'grant the task execution role ecr:GetAuthorizationToken, ecr:BatchGetImage and ecr:GetDownloadUrlForLayer (or fix repositoryCredentials for a private registry)',
  },
  registry_rate_limited: {
    rootCause: 'image_pull_failure',
    summary:
      "the registry throttles pulls (Docker Hub's anonymous rate limit, shared by every task behind one NAT address)",
    canFix: [],
    cannotFix: {
      restart_service: 'every new task pulls again and meets the same limit',
      scale_out: 'more tasks mean more pulls against the limit',
      rollback_task_definition: 'the earlier image is pulled from the same throttled registry',
      increase_memory: memoryCannot,
    },
    fix: 'pull through an authenticated account (repositoryCredentials) or mirror the image into Amazon ECR (an ECR pull-through cache rule for Docker Hub)',
  },
  egress_blocked: {
    rootCause: 'config_error',
    summary: 'the task cannot reach an AWS endpoint it needs at start-up (network path blocked)',
    canFix: [],
    cannotFix: {
      restart_service: 'a new task gets the same subnets and security groups',
      scale_out: scaleCannot,
      rollback_task_definition: 'network configuration lives on the service, not in the task definition',
      rotate_secret_and_redeploy: 'the secret is never reached; rotating it changes nothing',
      increase_memory: memoryCannot,
      switch_to_fallback: 'the task fails before the application starts',
    },
    fix: 'give the task a network path to the endpoint: allow outbound HTTPS (443) in its security group and network ACL, give private subnets a NAT gateway (or assignPublicIp in public subnets), or add VPC interface endpoints (secretsmanager, ssm, ecr.api, ecr.dkr, logs, and the S3 gateway endpoint)',
  },
  secret_access_denied: {
    rootCause: 'config_error',
    summary: 'the task execution role may not read a secret or parameter the task definition references',
    canFix: ['rollback_task_definition'],
    cannotFix: {
      restart_service: restartCannot,
      scale_out: scaleCannot,
      rotate_secret_and_redeploy: 'the role is refused access; a new secret value is refused the same way',
      increase_memory: memoryCannot,
    },
    fix: 'grant the task execution role secretsmanager:GetSecretValue / ssm:GetParameters on the referenced ARN (and kms:Decrypt on its key)',
  },
  secret_not_found: {
    rootCause: 'config_error',
    summary: 'the task definition references a secret or parameter that does not exist',
    canFix: ['rollback_task_definition'],
    cannotFix: {
      restart_service: restartCannot,
      scale_out: scaleCannot,
      rotate_secret_and_redeploy: 'there is no secret to rotate under that name',
      increase_memory: memoryCannot,
    },
    fix: 'create the secret or parameter, or correct the ARN in the task definition (full ARN, same Region)',
  },
  secret_malformed: {
    rootCause: 'config_error',
    summary: 'the secret exists but its value lacks the JSON key (or version) the task definition asks for',
    canFix: ['rollback_task_definition'],
    cannotFix: {
      restart_service: restartCannot,
      scale_out: scaleCannot,
      rotate_secret_and_redeploy:
        'rotation writes a new value in the same shape; the missing key stays missing',
      increase_memory: memoryCannot,
    },
    fix: 'store the secret as JSON with the key named in valueFrom (arn:…:json-key:version-stage:version-id), or correct the key in the task definition',
  },
  log_destination_missing: {
    rootCause: 'config_error',
    summary: 'the log driver cannot write: the configured log group does not exist',
    canFix: ['rollback_task_definition'],
    cannotFix: {
      restart_service: 'a new task meets the same missing log group',
      scale_out: scaleCannot,
      increase_memory: memoryCannot,
      rotate_secret_and_redeploy: rotateCannot,
    },
    fix: 'create the log group named in awslogs-group (or set awslogs-create-group to true and grant the execution role logs:CreateLogGroup)',
  },
  entrypoint_missing: {
    rootCause: 'config_error',
    summary: 'the container command or entrypoint is not found in the container filesystem',
    canFix: ['rollback_task_definition'],
    cannotFix: {
      restart_service: restartCannot,
      scale_out: scaleCannot,
      increase_memory: memoryCannot,
      rotate_secret_and_redeploy: rotateCannot,
    },
    fix: "correct the command/entryPoint, or the volume whose mount point hides the image's files (a volume mounted over the directory that holds the executable)",
  },
  ephemeral_storage: {
    rootCause: 'config_error',
    summary: 'the task or instance ran out of disk space',
    canFix: [],
    cannotFix: {
      scale_out: scaleCannot,
      increase_memory: 'disk, not memory, is full',
      rotate_secret_and_redeploy: rotateCannot,
      switch_to_fallback: 'the task fails on its own disk',
    },
    fix: 'raise ephemeralStorage.sizeInGiB (Fargate, up to 200 GiB) or the instance volume, or stop the workload writing unbounded data (logs, temp files, image layers on EC2: prune unused images)',
  },
  task_role_invalid: {
    rootCause: 'config_error',
    summary: 'ECS cannot assume the task or execution role the task definition names',
    canFix: ['rollback_task_definition'],
    cannotFix: { restart_service: restartCannot, scale_out: scaleCannot, increase_memory: memoryCannot },
    fix: 'fix the role ARN or its trust policy (principal ecs-tasks.amazonaws.com)',
  },
  placement_capacity: {
    rootCause: 'capacity_shortfall',
    summary: 'the scheduler cannot place tasks: no instance or Fargate capacity meets their requirements',
    canFix: [],
    cannotFix: {
      scale_out: 'more tasks cannot be placed either',
      restart_service: 'replacement tasks need the same capacity',
      rollback_task_definition: 'capacity, not the revision, is missing',
      increase_memory: 'bigger tasks are harder to place',
    },
    fix: 'add capacity: raise the Auto Scaling group or capacity provider maximum, request the EC2/Spot/Fargate service quota, add subnets in other Availability Zones, or fall back from FARGATE_SPOT to FARGATE in the capacity provider strategy',
  },
  capacity_ceiling: {
    rootCause: 'capacity_shortfall',
    summary: 'demand is far above normal and the service already runs its maximum task count',
    canFix: [],
    cannotFix: {
      scale_out: 'the service is at its registered maximum',
      restart_service: 'the same tasks meet the same demand',
      rollback_task_definition: 'the revision is not what changed',
    },
    fix: "raise the service's autoscaling maximum (and Homeostat's registered maxTasks) if the demand is legitimate, or throttle/shed it (WAF rate rules, API Gateway throttling) if it is not",
  },
  undersized_memory: {
    rootCause: 'oom',
    summary:
      "the working set does not fit the task's memory: memory sits at the ceiling and processes are killed",
    canFix: ['increase_memory', 'rollback_task_definition'],
    cannotFix: {
      restart_service: 'fresh tasks fill the same memory the same way',
      scale_out: 'each task still runs out of its own memory',
    },
    fix: 'raise the task and container memory (or lower the worker count/heap size) to fit the working set',
  },
  memory_leak: {
    rootCause: 'oom',
    summary: 'memory grows steadily until the task is killed; a fresh task starts low again',
    canFix: ['restart_service', 'rollback_task_definition'],
    cannotFix: {
      increase_memory: 'more memory only postpones the next kill of a steady leak',
      scale_out: 'every task leaks the same way',
    },
    fix: 'find the leak (heap dump at high memory); until it is fixed, restart on a schedule or roll back to the revision before it',
  },
  poison_input: {
    rootCause: 'crash_loop',
    summary:
      'one input (a queue message) kills every task that receives it; it returns to the queue and kills the next',
    canFix: [],
    cannotFix: {
      restart_service: 'the same message is delivered to the new tasks',
      scale_out: 'more consumers only die faster',
      increase_memory: memoryCannot,
      rollback_task_definition: 'no deploy changed the handler',
    },
    fix: "move the failing message to a dead-letter queue (a redrive policy with a low maxReceiveCount) and fix the handler's input validation",
  },
  deterministic_crash: {
    rootCause: 'crash_loop',
    summary:
      'tasks exit with an error again and again; ECS already replaces each one, and each replacement fails alike',
    canFix: [],
    cannotFix: {
      restart_service: 'ECS already restarts every crashed task; a forced deployment starts the same crash',
      scale_out: scaleCannot,
      increase_memory: memoryCannot,
    },
    fix: "read the crash's stack trace in the logs: fix the code or the input it fails on (a queue message: move it to a dead-letter queue)",
  },
  code_regression: {
    rootCause: 'bad_deployment',
    summary: 'the new revision fails where the previous one ran steadily',
    canFix: ['rollback_task_definition'],
    cannotFix: {
      restart_service: 'a restart runs the same failing revision',
      scale_out: scaleCannot,
    },
    fix: 'fix the change and redeploy (or roll back to the last steady revision, if there is one)',
  },
  config_change: {
    rootCause: 'config_error',
    summary: 'the new revision changed configuration only (same image) and the application rejects it',
    canFix: ['rollback_task_definition'],
    cannotFix: {
      restart_service: 'a restart runs the same configuration',
      scale_out: scaleCannot,
      increase_memory: memoryCannot,
    },
    fix: 'correct the configuration change and redeploy (or roll back to the last steady revision, if there is one)',
  },
  config_missing: {
    rootCause: 'config_error',
    summary: 'the application refuses to start: a required setting is missing or invalid',
    canFix: ['rollback_task_definition'],
    cannotFix: { restart_service: restartCannot, scale_out: scaleCannot, increase_memory: memoryCannot },
    fix: 'set the missing or invalid setting in the task definition (environment, secrets) and redeploy',
  },
  hung_process: {
    rootCause: 'health_check_failure',
    summary:
      'tasks run but stop answering (blocked event loop, deadlock, exhausted workers); a fresh task works',
    canFix: ['restart_service', 'stop_task'],
    cannotFix: { increase_memory: memoryCannot, rotate_secret_and_redeploy: rotateCannot },
    fix: 'find what blocks the process (thread dump, event-loop lag); restart buys time',
  },
  health_check_coupling: {
    rootCause: 'dependency_failure',
    summary: 'the health check fails because a dependency is down, so healthy tasks are killed with it',
    canFix: ['switch_to_fallback'],
    cannotFix: {
      restart_service: 'new tasks fail the same dependency check',
      scale_out: scaleCannot,
      rollback_task_definition: 'the revision is not what changed',
      increase_memory: memoryCannot,
    },
    fix: 'restore the dependency; make the health check test the process only (liveness), not optional dependencies, so an outage degrades instead of killing every task',
  },
  health_check_misconfigured: {
    rootCause: 'health_check_failure',
    summary: 'tasks start and serve, but the health check (path, port, timeout, grace period) fails them',
    canFix: [],
    cannotFix: {
      restart_service: 'new tasks fail the same check',
      scale_out: scaleCannot,
      rollback_task_definition: 'the revision is not what fails',
      increase_memory: memoryCannot,
    },
    fix: "correct the target group's health check (path, port, matcher, timeout) or raise the service's healthCheckGracePeriodSeconds to cover start-up",
  },
  dependency_unavailable: {
    rootCause: 'dependency_failure',
    summary: 'a dependency refuses, times out or throttles the service',
    canFix: ['switch_to_fallback'],
    cannotFix: {
      restart_service: 'new tasks reach the same unavailable dependency',
      scale_out: 'more tasks add load to the failing dependency',
      increase_memory: memoryCannot,
      rotate_secret_and_redeploy: 'the dependency is unreachable, not refusing credentials',
      rollback_task_definition: 'the failing dependency is not in the revision',
    },
    fix: 'restore the dependency (check its health, connection limits and throttling) or switch the service to its fallback',
  },
  dependency_full: {
    rootCause: 'dependency_failure',
    summary:
      'a dependency answers but refuses the work: its own capacity setting is exhausted (a cache at maxmemory)',
    canFix: [],
    cannotFix: {
      restart_service: 'new tasks meet the same full dependency',
      scale_out: 'more tasks send more writes to the full dependency',
      increase_memory: "the memory that is full is the dependency's, not the task's",
      rollback_task_definition: 'the full dependency is not in the revision',
      rotate_secret_and_redeploy: 'the dependency accepts the credential; it refuses the write',
    },
    fix: 'free or grow the dependency: an eviction policy or TTLs for a cache, a larger node type, or lower write volume',
  },
  credentials_rejected: {
    rootCause: 'secret_invalid',
    summary: 'a dependency rejects the credential the service holds',
    canFix: ['rotate_secret_and_redeploy', 'rollback_task_definition'],
    cannotFix: { restart_service: 'new tasks present the same credential', scale_out: scaleCannot },
    fix: 'set a credential the dependency accepts (rotate the secret and redeploy so tasks read it)',
  },
  downstream_bound: {
    rootCause: 'latency_degradation',
    summary:
      "latency rises while the service's own CPU is flat or falling: the time is spent waiting downstream",
    canFix: ['switch_to_fallback'],
    cannotFix: {
      scale_out: 'more tasks only add load to the slow dependency',
      restart_service: 'the dependency stays slow',
      increase_memory: memoryCannot,
    },
    fix: 'find the slow dependency (database slow queries, connection pool waits, a throttled API) and fix it there; scaling the service adds load to it',
  },
  cpu_bound: {
    rootCause: 'cpu_saturation',
    summary: "the service's own CPU is the bottleneck",
    canFix: ['scale_out'],
    cannotFix: { increase_memory: memoryCannot, rotate_secret_and_redeploy: rotateCannot },
    fix: 'add tasks (or CPU per task) and review the autoscaling target',
  },
  fd_limit: {
    rootCause: 'config_error',
    summary:
      'a process has used every file descriptor its nofile ulimit allows: new connections and files fail',
    canFix: [],
    cannotFix: {
      restart_service: 'new tasks start with the same nofile limit and fill it again under the same load',
      increase_memory: memoryCannot,
      rotate_secret_and_redeploy: rotateCannot,
      switch_to_fallback: 'the limit is in the task, not in a dependency',
    },
    fix: "raise the container's ulimits nofile (softLimit and hardLimit) in the task definition and redeploy; if open descriptors grow without load, find the leak (sockets or files never closed)",
  },
  clock_skew: {
    rootCause: 'config_error',
    summary:
      "the host's clock is off by more than AWS accepts (5 minutes): every signed AWS request is refused",
    canFix: [],
    cannotFix: {
      restart_service: 'a task placed on the same host gets the same clock',
      rollback_task_definition: 'the clock is the host’s, not the revision’s',
      scale_out: scaleCannot,
      increase_memory: memoryCannot,
      rotate_secret_and_redeploy: 'the credential is valid; the request time is wrong',
    },
    fix: "sync the container instances' clocks (chrony with the Amazon Time Sync Service at 169.254.169.123) or drain and replace the instances whose clock drifted",
  },
  shutdown_kill: {
    rootCause: 'no_fault',
    summary: 'a container was SIGKILLed (exit 137) while the task was being stopped, not for memory',
    canFix: [],
    cannotFix: {
      increase_memory: 'memory was not the cause of the 137',
      restart_service: 'nothing is failing',
      scale_out: 'nothing is failing',
    },
    fix: "make the container exit on SIGTERM (exec form entrypoint, or an init such as tini) or raise stopTimeout; the stop itself was ECS's",
  },
  spot_interruption: {
    rootCause: 'no_fault',
    summary: 'Fargate Spot reclaimed the capacity; ECS replaces the task',
    canFix: [],
    cannotFix: { restart_service: 'ECS replaces the task', scale_out: 'ECS replaces the task' },
    fix: 'nothing to repair; add FARGATE to the capacity provider strategy if interruptions hurt availability',
  },
  deployment_completed: {
    rootCause: 'no_fault',
    summary: 'a deployment finished and the service is steady',
    canFix: [],
    cannotFix: {},
    fix: 'nothing to do',
  },
};

/** What a human should do per root cause, when no mechanism is known. */
export const rootCauseFixes: Readonly<Record<RootCause, string>> = {
  bad_deployment: 'compare the running revision with the last steady one; fix the change and redeploy',
  oom: 'check memory per task against its limit; raise memory or reduce the working set',
  cpu_saturation: 'add capacity (tasks or CPU per task) and review the autoscaling target',
  crash_loop: "read the crash's stack trace in the logs and fix the code or the input it fails on",
  config_error: 'correct the task definition or service configuration the stopped reason names',
  dependency_failure: 'restore the dependency or switch the service to a degraded mode',
  secret_invalid: 'set a credential the dependency accepts and redeploy',
  image_pull_failure: 'check the image reference, the registry and the network path to it',
  health_check_failure:
    'check the health check (path, port, timeout, grace period) against what the task serves',
  capacity_shortfall: 'add capacity or raise the limits that cap it',
  latency_degradation: 'find where the time goes (downstream calls, queues, CPU) before scaling',
  no_fault: 'nothing to repair',
};
