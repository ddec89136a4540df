/**
 * The ECS failure signature catalog: messages Amazon ECS (and the container
 * runtime under it) writes into stopped reasons, container reasons and
 * service events, each mapped to the mechanism it reveals, its root cause and
 * the fix a human should make. Data, sourced from AWS's documentation (the
 * `source` of each entry); every documented message is a unit test
 * (signatures.test.ts). Pure.
 *
 * Order matters: the first signature that matches a text claims it, so the
 * specific ones (a secret fetch that timed out) come before the general ones
 * (a secret fetch that failed).
 */
import type { Mechanism } from './mechanisms.ts';
import type { RootCause } from './taxonomy.ts';

export interface FailureSignature {
  id: string;
  /** Matched case-insensitively against one text (a stopped reason, a service event, a log line). */
  pattern: RegExp;
  /** Where ECS writes it: a task's stop/container reason, a service event, or a log line ('any': all three). */
  where: 'task' | 'event' | 'log' | 'any' | 'ecs';
  mechanism: Mechanism;
  /** Overrides the mechanism's root cause where the message says more. */
  rootCause?: RootCause;
  /** How sure one match makes the diagnosis. */
  confidence: number;
  /** A fix more specific than the mechanism's, when the message tells which. */
  fix?: string;
  /** The AWS documentation page that documents the message. */
  source: string;
}

const doc = (page: string) => `https://docs.aws.amazon.com/AmazonECS/latest/developerguide/${page}.html`;
const stoppedErrors = doc('stopped-task-error-codes');
const resourceInit = doc('resource-initialization-error');
const pullErrors = doc('task_cannot_pull_image');
const serviceEvents = doc('service-event-messages');
const secretsTroubleshooting = doc('troubleshoot-secrets');
const cannotStart = doc('cannot-start-container');

/** Network failures: a timeout or refused dial to an AWS endpoint, not an answer from it. */
const networkFailure =
  /context deadline exceeded|i\/o timeout|request canceled|RequestCanceled|Client\.Timeout|dial tcp|no such host|connection (timed out|refused)|network is unreachable|check your task network configuration|TLS handshake timeout/i;

export const signatures: readonly FailureSignature[] = [
  // — Architecture: the kernel cannot execute the binary (linux/arm64 image on X86_64, or the reverse).
  {
    id: 'exec-format-error',
    pattern: /exec format error/i,
    where: 'any',
    mechanism: 'architecture_mismatch',
    confidence: 0.9,
    source: cannotStart,
  },
  {
    id: 'platform-mismatch',
    pattern:
      /image Manifest does not contain descriptor matching platform|does not match the specified platform|no matching manifest for linux\/(amd64|arm64)/i,
    where: 'any',
    mechanism: 'architecture_mismatch',
    rootCause: 'image_pull_failure',
    confidence: 0.9,
    source: pullErrors,
  },
  // — Secrets and parameters fetched by the agent before the container starts.
  {
    id: 'secret-fetch-network',
    pattern: new RegExp(
      `(unable to (pull|retrieve) secrets?|retrieve secret from asm|retrieve secrets from ssm|fetch secret|execution resource retrieval failed).*(${networkFailure.source}|pull command failed: : signal: killed)`,
      'i',
    ),
    where: 'task',
    mechanism: 'egress_blocked',
    confidence: 0.9,
    fix: 'the task cannot reach Secrets Manager / Systems Manager: allow outbound HTTPS (443) in the task security group and NACL, give private subnets a NAT gateway or add the secretsmanager/ssm VPC interface endpoints',
    source: secretsTroubleshooting,
  },
  {
    id: 'secret-reference-invalid',
    pattern:
      /(fetch secret|retrieve secret|secrets manager).*InvalidParameter.*(VersionId|VersionStage|json-key)/i,
    where: 'task',
    mechanism: 'secret_malformed',
    confidence: 0.85,
    fix: 'the valueFrom reference is malformed: use arn:aws:secretsmanager:region:account:secret:name:json-key:version-stage:version-id (a version id is 32–64 characters)',
    source: 'https://repost.aws/knowledge-center/ecs-unable-to-pull-secrets',
  },
  {
    id: 'secret-access-denied',
    pattern:
      /not authorized to perform: (secretsmanager|ssm|kms):\w+|(retrieve secret from asm|retrieve secrets from ssm|fetch secret).*AccessDenied/i,
    where: 'task',
    mechanism: 'secret_access_denied',
    confidence: 0.85,
    source: secretsTroubleshooting,
  },
  {
    id: 'secret-json-key',
    pattern:
      /did not contain json key|invalid character .* looking for beginning of value|unmarshal.*secret|secret .* is not valid json/i,
    where: 'task',
    mechanism: 'secret_malformed',
    confidence: 0.85,
    source: secretsTroubleshooting,
  },
  {
    id: 'secret-not-found',
    pattern:
      /(ResourceNotFoundException: Secrets Manager can.t find the specified secret|invalid ssm parameters|ParameterNotFound|secret .* (not found|does not exist))/i,
    where: 'task',
    mechanism: 'secret_not_found',
    confidence: 0.85,
    source: secretsTroubleshooting,
  },
  // — Logging: the awslogs driver initialises before the container.
  {
    id: 'log-group-missing',
    pattern:
      /(specified log group does not exist|failed to (create|validate) (Cloudwatch log stream|logger args).*(ResourceNotFoundException|log group))/i,
    where: 'task',
    mechanism: 'log_destination_missing',
    confidence: 0.9,
    source: resourceInit,
  },
  {
    id: 'logger-network',
    pattern: new RegExp(
      `failed to (create Cloudwatch log stream|validate logger args).*(${networkFailure.source}|signal: killed)`,
      'i',
    ),
    where: 'task',
    mechanism: 'egress_blocked',
    confidence: 0.85,
    fix: 'the task cannot reach CloudWatch Logs: allow outbound HTTPS (443), a NAT gateway, or a logs VPC interface endpoint',
    source: resourceInit,
  },
  // — Images.
  {
    id: 'pull-network',
    pattern: new RegExp(
      `(CannotPullContainerError|pull image|ref pull|failed to (resolve|do request)).*(${networkFailure.source})`,
      'i',
    ),
    where: 'task',
    mechanism: 'egress_blocked',
    rootCause: 'image_pull_failure',
    confidence: 0.85,
    fix: 'the task cannot reach the registry: allow outbound HTTPS (443), give private subnets a NAT gateway (or assignPublicIp in public subnets), or add the ecr.api, ecr.dkr and S3 gateway VPC endpoints',
    source: pullErrors,
  },
  {
    id: 'pull-rate-limit',
    pattern: /toomanyrequests|You have reached your pull rate limit|429 Too Many Requests/i,
    where: 'task',
    mechanism: 'registry_rate_limited',
    confidence: 0.85,
    source: pullErrors,
  },
  {
    id: 'pull-disk-full',
    pattern: /(CannotPullContainerError|pull|extract|layer).*no space left on device/i,
    where: 'task',
    mechanism: 'ephemeral_storage',
    rootCause: 'image_pull_failure',
    confidence: 0.85,
    fix: "the image does not fit the task's storage: raise ephemeralStorage.sizeInGiB (Fargate) or the instance's volume, or shrink the image",
    source: pullErrors,
  },
  {
    id: 'pull-auth',
    pattern:
      /(CannotPullContainerError|pull).*(no basic auth credentials|unauthorized: authentication required|not authorized to perform: ecr:|denied: requested access to the resource is denied|403 Forbidden)/i,
    where: 'task',
    mechanism: 'registry_auth_failed',
    rootCause: 'image_pull_failure',
    confidence: 0.85,
    source: pullErrors,
  },
  {
    id: 'pull-not-found',
    pattern:
      /(CannotPullContainerError|pull).*(manifest (for .*)?(not found|unknown)|repository does not exist|pull access denied|not found: manifest|name unknown|failed to resolve ref [^ ]+: not found|repository \S+ not found)/i,
    where: 'task',
    mechanism: 'image_not_found',
    rootCause: 'image_pull_failure',
    confidence: 0.9,
    source: pullErrors,
  },
  {
    id: 'pull-failed',
    pattern: /CannotPullContainerError/i,
    where: 'task',
    mechanism: 'image_not_found',
    rootCause: 'image_pull_failure',
    confidence: 0.75,
    fix: 'the image cannot be pulled: check the image reference, the registry and the execution role (the stopped reason says which)',
    source: pullErrors,
  },
  // — Container start.
  {
    id: 'executable-not-found',
    pattern:
      /(executable file not found in \$PATH|exec: "[^"]*": stat [^:]*(: )?no such file or direct|starting container process caused: exec: .*no such file|no such file or directory: unknown)/i,
    where: 'task',
    mechanism: 'entrypoint_missing',
    confidence: 0.85,
    source: cannotStart,
  },
  {
    id: 'disk-full',
    pattern:
      /no space left on device|Thin Pool has \d+ free data blocks which is less than minimum required/i,
    where: 'any',
    mechanism: 'ephemeral_storage',
    confidence: 0.85,
    source: doc('CannotCreateContainerError'),
  },
  {
    id: 'role-assume',
    pattern:
      /(ECS was unable to assume the role|unable to assume role|is not authorized to perform: sts:AssumeRole|Unable to locate credentials)/i,
    where: 'ecs',
    mechanism: 'task_role_invalid',
    confidence: 0.85,
    source: serviceEvents,
  },
  // — Memory, as ECS reports a container killed by the OOM killer.
  {
    id: 'oom-killed',
    pattern:
      /OutOfMemoryError: Container killed due to memory usage|OutOfMemory: Container killed|container killed due to memory usage/i,
    where: 'task',
    mechanism: 'undersized_memory',
    confidence: 0.85,
    source: stoppedErrors,
  },
  // — Placement: the scheduler found no room.
  {
    id: 'no-container-instances',
    pattern: /No Container Instances were found in your (cluster|capacity provider)/i,
    where: 'ecs',
    mechanism: 'placement_capacity',
    confidence: 0.9,
    fix: 'the cluster or capacity provider has no instances: check the Auto Scaling group (desired/max, launch errors) and the account quota for the instance type (on-demand and Spot are separate quotas)',
    source: serviceEvents,
  },
  {
    id: 'capacity-unavailable',
    pattern:
      /Capacity is unavailable at this time|insufficient capacity|InsufficientInstanceCapacity|Fargate Spot capacity/i,
    where: 'ecs',
    mechanism: 'placement_capacity',
    confidence: 0.85,
    fix: 'the capacity pool is exhausted in these Availability Zones: add subnets in other Availability Zones, or add FARGATE (on-demand) after FARGATE_SPOT in the capacity provider strategy, or request more quota',
    source: serviceEvents,
  },
  {
    id: 'task-limit',
    pattern:
      /reached the limit on the number of (tasks|vCPUs) you can run concurrently|You('|’)ve reached the limit|requested (CPU|MEMORY) configuration is above your limit/i,
    where: 'ecs',
    mechanism: 'placement_capacity',
    confidence: 0.85,
    fix: 'the account reached its Fargate/ECS task quota: request a Service Quotas increase',
    source: stoppedErrors,
  },
  {
    id: 'unable-to-place',
    pattern:
      /unable to place a task|no container instance met all of its requirements|has insufficient (memory|CPU( units)?) available|insufficient (memory|cpu)|is already using a port required by your task|SERVICE_TASK_PLACEMENT_FAILURE|\bRESOURCE:(CPU|MEMORY|GPU|FARGATE|PORTS|ENI|\*)/i,
    where: 'ecs',
    mechanism: 'placement_capacity',
    confidence: 0.8,
    fix: 'no instance has room for the task: add instances (raise the Auto Scaling group maximum), use a smaller task size, or relax placement constraints',
    source: serviceEvents,
  },
  // — Limits outside memory and CPU that a running task hits.
  {
    // The kernel's EMFILE ("Too many open files", errno(3)) from any runtime: Node's
    // "EMFILE: too many open files", Java's "IOException: Too many open files", Go's "accept4: too many open files".
    id: 'open-files-limit',
    pattern: /\bEMFILE\b|too many open files/i,
    where: 'any',
    mechanism: 'fd_limit',
    confidence: 0.85,
    source: 'https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_Ulimit.html',
  },
  {
    // AWS refuses a request signed more than 5 minutes away from its own clock (Signature Version 4).
    id: 'clock-skew',
    pattern:
      /Signature not yet current|Signature expired: \d{8}T\d{6}Z is now earlier than|RequestTimeTooSkewed/i,
    where: 'log',
    mechanism: 'clock_skew',
    confidence: 0.85,
    source: 'https://docs.aws.amazon.com/IAM/latest/UserGuide/signature-v4-troubleshooting.html',
  },
  // — Dependencies that answer with a refusal of their own.
  {
    // Redis (ElastiCache) at maxmemory with nothing it may evict: every write is refused.
    id: 'redis-maxmemory',
    pattern: /command not allowed when used memory > ?'?maxmemory/i,
    where: 'log',
    mechanism: 'dependency_full',
    confidence: 0.85,
    fix: 'the Redis (ElastiCache) node is full and refuses writes: set a maxmemory-policy that evicts (allkeys-lru), give keys a TTL, or move to a larger node type; restarting or scaling the service changes nothing',
    source: 'https://repost.aws/knowledge-center/oom-command-not-allowed-redis',
  },
  // — Not faults.
  {
    id: 'spot-interruption',
    pattern: /Your Spot Task was interrupted|SpotInterruption/i,
    where: 'task',
    mechanism: 'spot_interruption',
    confidence: 0.9,
    source: doc('fargate-capacity-providers'),
  },
];

export interface SignatureMatch {
  signature: FailureSignature;
  where: SourcedText['where'];
  /** The evidence the text came from. */
  evidenceId: string;
  text: string;
}

/** Where a text came from, as the matcher needs it. */
export interface SourcedText {
  evidenceId: string;
  where: 'task' | 'event' | 'log';
  text: string;
}

/** The first signature matching one text, or null. */
export function signatureFor(text: string, where: SourcedText['where'] = 'task'): FailureSignature | null {
  return (
    signatures.find(
      (s) =>
        (s.where === 'any' || s.where === where || (s.where === 'ecs' && where !== 'log')) &&
        s.pattern.test(text),
    ) ?? null
  );
}

/** Every text a signature claims, in the order given. */
export function matchSignatures(texts: readonly SourcedText[]): SignatureMatch[] {
  return texts.flatMap((t) => {
    const signature = signatureFor(t.text, t.where);
    return signature ? [{ signature, where: t.where, evidenceId: t.evidenceId, text: t.text }] : [];
  });
}
