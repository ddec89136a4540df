import { describe, expect, it } from 'vitest';
import { mechanismSpecs } from './mechanisms.ts';
import { signatureFor, signatures } from './signatures.ts';

/**
 * Messages as AWS's documentation words them (the ECS developer guide, its
 * API reference and the AWS Knowledge Center), each with the page it comes
 * from and the signature it must meet. None is a field case's string.
 */
const documented: [message: string, where: 'task' | 'event', signature: string, page: string][] = [
  // task_cannot_pull_image
  [
    'CannotPullContainerError: API error (500): Get https://111122223333.dkr.ecr.us-east-1.amazonaws.com/v2/: net/http: request canceled while waiting for connection',
    'task',
    'pull-network',
    'task_cannot_pull_image',
  ],
  [
    'CannotPullContainerError: API error (404): repository 111122223333.dkr.ecr.us-east-1.amazonaws.com/shop/api not found',
    'task',
    'pull-not-found',
    'task_cannot_pull_image',
  ],
  [
    'CannotPullContainerError: write /var/lib/docker/tmp/GetImageBlob123456789: no space left on device',
    'task',
    'pull-disk-full',
    'task_cannot_pull_image',
  ],
  [
    "CannotPullContainerError: Error response from daemon: pull access denied for shop/api, repository does not exist or may require 'docker login'",
    'task',
    'pull-not-found',
    'task_cannot_pull_image',
  ],
  // Knowledge Center: ecs-unable-to-pull-secrets
  [
    'ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: unable to retrieve ecr registry auth: service call has been retried 3 time(s): RequestError: send request failed caused by: Post "https://api.ecr.us-east-1.amazonaws.com/": dial tcp 10.0.0.1:443: i/o timeout. Please check your task network configuration.',
    'task',
    'secret-fetch-network',
    'knowledge-center/ecs-unable-to-pull-secrets',
  ],
  [
    'ResourceInitializationError: unable to pull secrets or registry auth: pull command failed: : signal: killed',
    'task',
    'secret-fetch-network',
    'knowledge-center/ecs-unable-to-pull-secrets',
  ],
  [
    'ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: unable to retrieve secret from asm: service call has been retried 1 time(s): failed to fetch secret arn:aws:secretsmanager:us-east-1:111122223333:secret:db from secrets manager: InvalidParameter: 1 validation error(s) found. – (minimum field size of 32/ maximum field size of 64), GetSecretValueInput.VersionId.',
    'task',
    'secret-reference-invalid',
    'knowledge-center/ecs-unable-to-pull-secrets',
  ],
  // troubleshoot-secrets / the execution role
  [
    'ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: unable to retrieve secret from asm: service call has been retried 1 time(s): failed to fetch secret arn:aws:secretsmanager:us-east-1:111122223333:secret:db from secrets manager: AccessDeniedException: User: arn:aws:sts::111122223333:assumed-role/ecsTaskExecutionRole/abc is not authorized to perform: secretsmanager:GetSecretValue on resource: arn:aws:secretsmanager:us-east-1:111122223333:secret:db',
    'task',
    'secret-access-denied',
    'troubleshoot-secrets',
  ],
  [
    "ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: unable to retrieve secret from asm: service call has been retried 1 time(s): failed to fetch secret arn:aws:secretsmanager:us-east-1:111122223333:secret:db from secrets manager: ResourceNotFoundException: Secrets Manager can't find the specified secret.",
    'task',
    'secret-not-found',
    'troubleshoot-secrets',
  ],
  [
    'ResourceInitializationError: unable to pull secrets or registry auth: execution resource retrieval failed: unable to retrieve secret from asm: service call has been retried 1 time(s): retrieved secret from Secrets Manager did not contain json key password',
    'task',
    'secret-json-key',
    'troubleshoot-secrets',
  ],
  // stopped-task-error-codes: ResourceInitializationError (logging driver)
  [
    'ResourceInitializationError: failed to validate logger args: create stream has been retried 1 times: failed to create Cloudwatch log stream: ResourceNotFoundException: The specified log group does not exist. : exit status 1',
    'task',
    'log-group-missing',
    'resource-initialization-error',
  ],
  [
    'ResourceInitializationError: failed to validate logger args: : signal: killed',
    'task',
    'logger-network',
    'resource-initialization-error',
  ],
  // cannot-start-container / Knowledge Center ecs-task-exec-format-error
  [
    'standard_init_linux.go:228: exec user process caused: exec format error',
    'task',
    'exec-format-error',
    'knowledge-center/ecs-task-exec-format-error',
  ],
  [
    'CannotStartContainerError: Error response from daemon: failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: exec: "node": executable file not found in $PATH: unknown',
    'task',
    'executable-not-found',
    'cannot-start-container',
  ],
  // service-event-messages
  [
    '(service api) was unable to place a task because no container instance met all of its requirements. The closest matching (container-instance 0123abcd) has insufficient memory available.',
    'event',
    'unable-to-place',
    'service-event-messages',
  ],
  [
    '(service api) was unable to place a task because no container instance met all of its requirements. The closest matching container-instance 0123abcd has insufficient CPU units available.',
    'event',
    'unable-to-place',
    'service-event-messages',
  ],
  [
    '(service api) was unable to place a task because no container instance met all of its requirements. The closest matching container-instance 0123abcd is already using a port required by your task.',
    'event',
    'unable-to-place',
    'service-event-messages',
  ],
  [
    "(service api) was unable to place a task. Reason: You've reached the limit on the number of tasks you can run concurrently",
    'event',
    'task-limit',
    'service-event-messages',
  ],
  [
    '(service api) was unable to place a task. Reason: The requested CPU configuration is above your limit.',
    'event',
    'task-limit',
    'service-event-messages',
  ],
  [
    '(service api) was unable to place a task. Reason: No Container Instances were found in your cluster.',
    'event',
    'no-container-instances',
    'service-event-messages',
  ],
  // api_failures_messages (RunTask / placement failure reasons)
  ['TaskFailedToStart: RESOURCE:MEMORY', 'task', 'unable-to-place', 'api_failures_messages'],
  ['RESOURCE:FARGATE', 'event', 'unable-to-place', 'ecs_cwe_events'],
  // Knowledge Center: ecs-fargate-runtask-capacity
  [
    'Capacity is unavailable at this time. Please try again later or in a different availability zone',
    'event',
    'capacity-unavailable',
    'knowledge-center/ecs-fargate-runtask-capacity',
  ],
  // Knowledge Center: ecs-resolve-outofmemory-errors
  [
    'OutOfMemoryError: Container killed due to memory usage',
    'task',
    'oom-killed',
    'knowledge-center/ecs-resolve-outofmemory-errors',
  ],
  // fargate-capacity-providers
  ['Your Spot Task was interrupted.', 'task', 'spot-interruption', 'fargate-capacity-providers'],
  // troubleshoot-task-iam-roles
  ['Unable to locate credentials', 'task', 'role-assume', 'troubleshoot-task-iam-roles'],
  [
    'CannotPullContainerError: ref pull has been retried 1 time(s): failed to copy: httpReaderSeeker: failed open: unexpected status code',
    'task',
    'pull-failed',
    'task_cannot_pull_image',
  ],
  [
    "CannotPullContainerError: image Manifest does not contain descriptor matching platform 'linux/amd64'",
    'task',
    'platform-mismatch',
    'task_cannot_pull_image',
  ],
  [
    'CannotPullContainerError: Error response from daemon: Get https://111122223333.dkr.ecr.us-east-1.amazonaws.com/v2/shop/api/manifests/1.4: no basic auth credentials',
    'task',
    'pull-auth',
    'task_cannot_pull_image',
  ],
  // CannotCreateContainerError (EC2: the instance's Docker storage is full)
  [
    'CannotCreateContainerError: API error (500): devmapper: Thin Pool has 4350 free data blocks which is less than minimum required 4454 free data blocks. Create more free space in thin pool or use dm.min_free_space option to change behavior',
    'task',
    'disk-full',
    'CannotCreateContainerError',
  ],
  [
    'CannotPullContainerError: AccessDeniedException: User: arn:aws:sts::111122223333:assumed-role/ecsTaskExecutionRole/abc is not authorized to perform: ecr:BatchGetImage on resource: arn:aws:ecr:us-east-1:111122223333:repository/shop/api',
    'task',
    'pull-auth',
    'task_cannot_pull_image',
  ],
  // task_cannot_pull_image: Docker Hub's rate limit
  ['ERROR: toomanyrequests: Too Many Requests.', 'task', 'pull-rate-limit', 'task_cannot_pull_image'],
];

/**
 * Messages a running task writes to its log, in the wording of the page that documents them: the
 * kernel's EMFILE as errno(3) and Node.js word it (the limit is the nofile ulimit, ECS API Ulimit), the
 * IAM guide's Signature Version 4 troubleshooting, and the ElastiCache Knowledge Center (Redis's own
 * wording and redis-py's).
 */
const documentedLogs: [message: string, signature: string, page: string][] = [
  [
    "Error: EMFILE: too many open files, open '/app/static/index.html'",
    'open-files-limit',
    'errno(3), Node.js',
  ],
  ['java.io.IOException: Too many open files', 'open-files-limit', 'errno(3)'],
  [
    'Signature expired: 20130524T000000Z is now earlier than 20130524T001500Z (20130524T002000Z - 15 min.)',
    'clock-skew',
    'signature-v4-troubleshooting',
  ],
  [
    'An error occurred (RequestTimeTooSkewed) when calling the PutObject operation: The difference between the request time and the current time is too large.',
    'clock-skew',
    'Amazon S3 error responses',
  ],
  [
    "(error) OOM command not allowed when used memory > 'maxmemory'.",
    'redis-maxmemory',
    'oom-command-not-allowed-redis',
  ],
  [
    "redis.exceptions.OutOfMemoryError: command not allowed when used memory > 'maxmemory'.",
    'redis-maxmemory',
    'redis.io OOM error',
  ],
];

describe('the ECS failure signature catalog', () => {
  it.each(documented)('%s → %s', (message, where, id) => {
    expect(signatureFor(message, where)?.id).toBe(id);
  });

  it.each(documentedLogs)('log: %s → %s', (message, id) => {
    expect(signatureFor(message, 'log')?.id).toBe(id);
  });

  it('has a documented message for every signature', () => {
    const covered = new Set([...documented.map(([, , id]) => id), ...documentedLogs.map(([, id]) => id)]);
    expect(signatures.map((s) => s.id).filter((id) => !covered.has(id))).toEqual([]);
  });

  it('names, for every signature, a mechanism with its actions and fix, and an AWS source', () => {
    for (const s of signatures) {
      const spec = mechanismSpecs[s.mechanism];
      expect(spec, s.id).toBeDefined();
      expect(spec.fix.length, s.id).toBeGreaterThan(10);
      expect(spec.canFix.length + Object.keys(spec.cannotFix).length, s.id).toBeGreaterThan(0);
      expect(s.source, s.id).toMatch(/^https:\/\/docs\.aws\.amazon\.com\/|^https:\/\/repost\.aws\//);
      expect(s.confidence, s.id).toBeGreaterThan(0.5);
    }
  });

  it('does not claim ordinary messages: steady state, started tasks, a completed deployment, a healthy log line', () => {
    for (const text of [
      '(service api) has reached a steady state.',
      '(service api) has started 2 tasks: (task 0a1b) (task 2c3d).',
      'ECS deployment ecs-svc/123 completed.',
      'GET /health 200 3ms',
      'Essential container in task exited',
    ])
      expect(signatureFor(text, 'event'), text).toBeNull();
  });

  it('does not read a log line that merely mentions "exec" or "space" as a start failure', () => {
    expect(signatureFor('INFO exec plan cached; 12 GB space free', 'log')).toBeNull();
  });
});
