/**
 * `homeostat dlq list|redrive <agent>`: the agents' dead-letter queues from a terminal.
 * `list` shows what is there without consuming it (each message is hidden while it is
 * read, then made visible again); `redrive` hands each message back where it failed
 * and deletes it only once the hand-over succeeded. The shapes and how each is
 * re-delivered: dead-letter-shapes.ts.
 */
import { parseArgs } from 'node:util';
import { stackName, withoutStack } from './cli-config.ts';
import {
  type ClassifiedDeadLetter,
  classifyDeadLetter,
  type DeadLetter,
  type Redelivery,
} from './dead-letter-shapes.ts';

/** The agents with a dead-letter queue, and the stack output naming each one's function. */
export const agentFunctionOutputs = {
  perceive: 'PerceptionFunctionName',
  diagnose: 'DiagnosisFunctionName',
  plan: 'PlanFunctionName',
  act: 'ActFunctionName',
  verify: 'VerifyFunctionName',
  approve: 'ApproveFunctionName',
  learn: 'LearnFunctionName',
  notify: 'NotifyFunctionName',
  chaos: 'ChaosFunctionName',
} as const;

export type DlqAgent = keyof typeof agentFunctionOutputs;

export const dlqUsage = `  dlq list <agent> [--max N] [--json]
                                     the agent's dead-letter queue: count, age, the failed event
                                     (detail-type, source, incident) and the error; nothing is consumed
  dlq redrive <agent> [--dry-run] [--max N] [--json]
                                     re-deliver each message where it failed (Lambda invocation
                                     records and EventBridge target failures); delete after hand-over
      agents: ${Object.keys(agentFunctionOutputs).join(', ')}; --function NAME picks the function (its
      on-failure destination is the queue) instead of the stack's output; --max defaults to 100
`;

/** A message received from the queue, hidden from other readers until released or deleted. */
export type ReceivedDeadLetter = DeadLetter & { receiptHandle: string };

/** One agent's dead-letter queue (SQS). */
export interface DeadLetterQueue {
  readonly url: string;
  /** Messages waiting (visible) and currently hidden by a reader (in flight). */
  depth(): Promise<{ visible: number; inFlight: number }>;
  /** Up to `max` messages, each hidden from other readers for `holdSeconds`. */
  receive(max: number, holdSeconds: number): Promise<ReceivedDeadLetter[]>;
  /** Makes messages visible again at once (visibility timeout 0). */
  release(letters: readonly ReceivedDeadLetter[]): Promise<void>;
  /** Deletes a message for good. */
  remove(letter: ReceivedDeadLetter): Promise<void>;
}

export interface DlqDeps {
  /** The agent's function and its dead-letter queue (the function's on-failure destination). */
  open(
    agent: DlqAgent,
    options: { stack: string; fn: string | undefined },
  ): Promise<{
    functionName: string;
    queue: DeadLetterQueue;
  }>;
  /** Hands a message back: resolves once Lambda accepted the asynchronous invocation or SQS the message. */
  redeliver(redelivery: Redelivery): Promise<void>;
  now(): Date;
}

export interface DlqOutput {
  stdout: string;
  stderr: string;
  exitCode: number;
}

/** How long `list` hides a message while it pages through the queue, in seconds. */
const listHoldSeconds = 30;
/** How long `redrive` holds a message: another `redrive` cannot take it meanwhile, so none is delivered twice. */
const redriveHoldSeconds = 120;

const usageError = (message: string): DlqOutput => ({
  stdout: '',
  stderr: `${message}\n\nusage:\n${dlqUsage}`,
  exitCode: 2,
});

/** Compact age: 45s, 12m, 3h05m, 2d4h. */
export function formatAge(from: Date | undefined, now: Date): string {
  if (!from) return 'age unknown';
  const s = Math.max(0, Math.floor((now.getTime() - from.getTime()) / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(s / 86_400)}d${Math.floor((s % 86_400) / 3600)}h`;
}

const describeRedelivery = (r: Redelivery) =>
  r.kind === 'invoke' ? `invoke ${r.functionArn} asynchronously` : `send to ${r.queueArn}`;

/** The human-readable lines for one classified message. */
export function formatDeadLetter(n: number, letter: ClassifiedDeadLetter, now: Date): string[] {
  const e = letter.event;
  const what = e.detailType ? `${e.detailType}${e.source ? ` from ${e.source}` : ''}` : '(no event)';
  return [
    `  ${n}. ${letter.messageId}  ${formatAge(letter.sentAt, now)}  ${letter.shape}  ${what}${e.incidentId ? `  incident ${e.incidentId}` : ''}`,
    `       error: ${letter.error}`,
    letter.redelivery
      ? `       redrive: ${describeRedelivery(letter.redelivery)}`
      : `       left in place: ${letter.leftBecause}`,
  ];
}

/** Runs `dlq list|redrive`; usage mistakes exit 2, a failed hand-over exits 1. */
export async function dlqCommand(args: string[], deps: DlqDeps): Promise<DlqOutput> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(withoutStack(args));
  } catch (error) {
    return usageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  const [sub, agent, ...extra] = positionals;
  if (sub !== 'list' && sub !== 'redrive') return usageError(`unknown dlq command: ${sub ?? '(none)'}`);
  if (!agent || extra.length > 0) return usageError(`dlq ${sub} needs exactly one agent`);
  if (!(agent in agentFunctionOutputs))
    return usageError(`unknown agent ${agent}: one of ${Object.keys(agentFunctionOutputs).join(', ')}`);
  const max = Number(values.max);
  if (!Number.isInteger(max) || max < 1 || max > 1000)
    return usageError(`--max must be 1–1000, got ${values.max}`);
  const { functionName, queue } = await deps.open(agent as DlqAgent, {
    stack: stackName(args),
    fn: values.function,
  });
  return sub === 'list'
    ? list(agent, functionName, queue, max, values.json, deps)
    : redrive(agent, functionName, queue, { max, dryRun: values['dry-run'], json: values.json }, deps);
}

async function list(
  agent: string,
  functionName: string,
  queue: DeadLetterQueue,
  max: number,
  json: boolean,
  deps: DlqDeps,
): Promise<DlqOutput> {
  const depth = await queue.depth();
  const received = await queue.receive(max, listHoldSeconds);
  try {
    const letters = received.map(classifyDeadLetter);
    const now = deps.now();
    if (json)
      return {
        stdout: `${JSON.stringify({ agent, functionName, queueUrl: queue.url, ...depth, messages: letters }, null, 2)}\n`,
        stderr: '',
        exitCode: 0,
      };
    const lines = [
      `Dead letters of ${agent} (${functionName}, ${queue.url}): ${depth.visible} waiting, ${depth.inFlight} in flight`,
      ...letters.flatMap((letter, i) => formatDeadLetter(i + 1, letter, now)),
    ];
    if (letters.length === 0) lines.push('  (none)');
    if (depth.visible > letters.length) lines.push(`  … ${depth.visible - letters.length} more (--max N)`);
    return { stdout: `${lines.join('\n')}\n`, stderr: '', exitCode: 0 };
  } finally {
    await queue.release(received);
  }
}

interface RedriveResult {
  messageId: string;
  shape: ClassifiedDeadLetter['shape'];
  outcome: 'redriven' | 'would-redrive' | 'left' | 'failed' | 'redriven-not-deleted';
  detail: string;
}

/**
 * Why a re-delivery is refused, if it is: a dead letter names its own target (a failure record's
 * functionArn, EventBridge's TARGET_ARN), and whoever can write to the queue writes those; the
 * operator's credentials invoke only the agent whose queue this is.
 */
export function foreignTarget(redelivery: Redelivery, functionName: string): string | undefined {
  if (redelivery.kind !== 'invoke') return undefined;
  const name = redelivery.functionArn.split(':function:')[1]?.split(':')[0] ?? redelivery.functionArn;
  return name === functionName || redelivery.functionArn === functionName
    ? undefined
    : `it names ${redelivery.functionArn}, not this agent's function ${functionName}: left in place`;
}

async function redrive(
  agent: string,
  functionName: string,
  queue: DeadLetterQueue,
  options: { max: number; dryRun: boolean; json: boolean },
  deps: DlqDeps,
): Promise<DlqOutput> {
  const received = await queue.receive(options.max, redriveHoldSeconds);
  const results: RedriveResult[] = [];
  const keep: ReceivedDeadLetter[] = [];
  try {
    for (const message of received) {
      const letter = classifyDeadLetter(message);
      const result = { messageId: letter.messageId, shape: letter.shape };
      if (!letter.redelivery) {
        keep.push(message);
        results.push({ ...result, outcome: 'left', detail: letter.leftBecause ?? 'not re-deliverable' });
        continue;
      }
      const foreign = foreignTarget(letter.redelivery, functionName);
      if (foreign) {
        keep.push(message);
        results.push({ ...result, outcome: 'left', detail: foreign });
        continue;
      }
      const how = describeRedelivery(letter.redelivery);
      if (options.dryRun) {
        keep.push(message);
        results.push({ ...result, outcome: 'would-redrive', detail: how });
        continue;
      }
      try {
        await deps.redeliver(letter.redelivery);
      } catch (error) {
        keep.push(message);
        results.push({ ...result, outcome: 'failed', detail: `${how}: ${(error as Error).message}` });
        continue;
      }
      try {
        await queue.remove(message);
        results.push({ ...result, outcome: 'redriven', detail: how });
      } catch (error) {
        // Handed over: not released, so no other redrive delivers it again before the hold ends.
        results.push({
          ...result,
          outcome: 'redriven-not-deleted',
          detail: `${how}, but the delete failed (${(error as Error).message}); it reappears in ${redriveHoldSeconds}s — check before redriving again`,
        });
      }
    }
  } finally {
    await queue.release(keep);
  }
  const count = (outcome: RedriveResult['outcome']) => results.filter((r) => r.outcome === outcome).length;
  const failed = count('failed') + count('redriven-not-deleted');
  if (options.json)
    return {
      stdout: `${JSON.stringify({ agent, queueUrl: queue.url, results }, null, 2)}\n`,
      stderr: '',
      exitCode: failed ? 1 : 0,
    };
  const summary = options.dryRun
    ? `dry run: ${count('would-redrive')} would be re-delivered, ${count('left')} left in place`
    : `${count('redriven')} re-delivered, ${count('left')} left in place, ${failed} failed`;
  const lines = [
    `Redrive of ${agent}'s dead letters (${queue.url}): ${summary}`,
    ...results.map((r) => `  ${r.outcome.padEnd(20)} ${r.messageId}  ${r.shape}: ${r.detail}`),
  ];
  return { stdout: `${lines.join('\n')}\n`, stderr: '', exitCode: failed ? 1 : 0 };
}

function parse(args: string[]) {
  return parseArgs({
    args,
    allowPositionals: true,
    options: {
      function: { type: 'string' },
      max: { type: 'string', default: '100' },
      'dry-run': { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    },
  });
}
