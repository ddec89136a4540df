/**
 * The runner's part after the diagnosis: it plays the world's answer to each
 * action (the emulator runs no containers), approves as a human would when
 * the loop asks, and reads what the loop did — first action, resolved, undo,
 * and whether every executed action had passed the policy.
 */
import {
  CloudWatchClient,
  DescribeAlarmsCommand,
  PutMetricAlarmCommand,
  SetAlarmStateCommand,
} from '@aws-sdk/client-cloudwatch';
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { Pool } from '../shared/adapters/database.ts';
import { shortRevision } from '../shared/adapters/service-state.ts';
import { type IncidentState, isTerminal } from '../shared/domain/incident.ts';
import { ecsMetricAlarmEvent } from '../shared/testing/alarm-events.ts';
import type { localClientConfig } from './deploy-local.ts';
import type { Scenario } from './scenario-format.ts';
import type { WorldNames } from './scenario-world.ts';

type ClientConfig = ReturnType<typeof localClientConfig>;
export type WorldResponse = 'recovers' | 'no_effect' | 'worse';

export interface RemediationObserved {
  /** The first action the loop chose: a catalog action, `escalate`, or `none` (it did nothing). */
  firstAction: string;
  actions: { step: number; action: string; mode: string; status: string; undone: boolean }[];
  resolved: boolean;
  undoUsed: boolean;
  finalState: string | null;
  /** Executed actions that no policy decision (or human approval) allowed. */
  policyViolations: string[];
  /** First signal recorded → first action executed. */
  timeToActionMs: number | null;
  /** First signal recorded → incident closed as resolved. */
  timeToResolveMs: number | null;
  /** The learn agent summarised the closed incident (outcomes, graph, recurrence). */
  learned: boolean;
  /** Channels the notify agent brought up to date for this incident. */
  notified: string[];
}

/** What the registry must know for the catalog's actions to be possible on a scenario's service. */
export async function remediationWorld(config: ClientConfig, pool: Pool, names: WorldNames, arns: string[]) {
  const secrets = new SecretsManagerClient(config);
  try {
    const secret = await secrets.send(
      new CreateSecretCommand({ Name: `${names.cluster}/${names.service}/credentials`, SecretString: 'v1' }),
    );
    // Every revision before the running one ran steadily for an hour: rollback targets.
    for (const arn of arns.slice(0, -1))
      await pool.query(
        `INSERT INTO steady_revisions (cluster, service, task_definition, first_steady_at, last_steady_at)
         VALUES ($1, $2, $3, now() - interval '3 hours', now() - interval '2 hours') ON CONFLICT DO NOTHING`,
        [names.cluster, names.service, shortRevision(arn)],
      );
    return {
      autonomy: { default: 'auto' as const },
      fallback: {
        parameterName: `/homeostat-scenarios/${names.cluster}/${names.service}/fallback`,
        value: 'on',
      },
      secrets: [secret.ARN ?? ''],
      maintenanceTasks: [],
    };
  } finally {
    secrets.destroy();
  }
}

/** Sets each alarm the scenario's signals name to the state its last signal gave it. */
export async function settleAlarms(config: ClientConfig, scenario: Scenario, names: WorldNames) {
  const last = new Map<string, 'ALARM' | 'OK'>();
  for (const s of scenario.signals)
    if (s.detailType === 'CloudWatch Alarm State Change')
      last.set(`${names.alarmPrefix}${s.alarmName}`, s.state as 'ALARM' | 'OK');
  const cw = new CloudWatchClient(config);
  try {
    for (const [name, state] of last)
      await cw.send(
        new SetAlarmStateCommand({ AlarmName: name, StateValue: state, StateReason: 'scenario' }),
      );
  } finally {
    cw.destroy();
  }
}

/** Plays CloudWatch's part after an action: alarms back to OK, a new alarm firing, or nothing. */
async function playResponse(config: ClientConfig, names: WorldNames, response: WorldResponse) {
  if (response === 'no_effect') return;
  const cw = new CloudWatchClient(config);
  const bus = new EventBridgeClient(config);
  const announce = async (alarmName: string, state: 'ALARM' | 'OK') => {
    await cw.send(
      new SetAlarmStateCommand({
        AlarmName: alarmName,
        StateValue: state,
        StateReason: `scenario: ${response}`,
      }),
    );
    const event = ecsMetricAlarmEvent({
      cluster: names.cluster,
      service: names.service,
      time: new Date(),
      alarmName,
      state,
      previousState: state === 'OK' ? 'ALARM' : 'OK',
    });
    await bus.send(
      new PutEventsCommand({
        Entries: [
          {
            Source: event.source,
            DetailType: event['detail-type'],
            Detail: JSON.stringify(event.detail),
            Resources: event.resources,
          },
        ],
      }),
    );
  };
  try {
    if (response === 'recovers') {
      const out = await cw.send(
        new DescribeAlarmsCommand({ AlarmNamePrefix: names.alarmPrefix, StateValue: 'ALARM' }),
      );
      for (const alarm of out.MetricAlarms ?? []) if (alarm.AlarmName) await announce(alarm.AlarmName, 'OK');
      return;
    }
    const worse = `${names.alarmPrefix}errors-after-action`;
    await cw.send(
      new PutMetricAlarmCommand({
        AlarmName: worse,
        Namespace: 'Homeostat/Scenarios',
        MetricName: `${names.service}-errors`,
        Statistic: 'Sum',
        Period: 60,
        EvaluationPeriods: 1,
        Threshold: 0,
        ComparisonOperator: 'GreaterThanThreshold',
      }),
    );
    await announce(worse, 'ALARM');
  } finally {
    cw.destroy();
    bus.destroy();
  }
}

interface StepRow {
  step: number;
  action: string;
  mode: string;
  status: string;
  undone: boolean;
  executed_at: Date | null;
}

/**
 * Follows the incident through plan, act and verify until it closes, waits on
 * nothing more (no action chosen), or the deadline passes — answering each
 * executed action as the scenario says and approving what asks for a human.
 */
export async function followRemediation(
  incidentId: string,
  detectedAt: Date,
  scenario: Scenario,
  names: WorldNames,
  ctx: { config: ClientConfig; pool: Pool; timeoutMs: number; approveFunctionName: string },
): Promise<RemediationObserved> {
  const answered = new Set<number>();
  const approved = new Set<number>();
  const deadline = Date.now() + ctx.timeoutMs;
  let state: IncidentState | null = null;
  let steps: StepRow[] = [];
  const lambda = new LambdaClient(ctx.config);
  try {
    while (Date.now() < deadline) {
      state =
        (await ctx.pool.query('SELECT state FROM incidents WHERE id = $1', [incidentId])).rows[0]?.state ??
        null;
      steps = (
        await ctx.pool.query(
          'SELECT step, action, mode, status, undone, executed_at FROM remediation_steps WHERE incident_id = $1 ORDER BY step',
          [incidentId],
        )
      ).rows;
      for (const s of steps) {
        if (s.status === 'awaiting_approval' && !approved.has(s.step)) {
          approved.add(s.step);
          await lambda.send(
            new InvokeCommand({
              FunctionName: ctx.approveFunctionName,
              Payload: JSON.stringify({ incidentId, decision: 'approve', decidedBy: 'scenario-runner' }),
            }),
          );
        }
        if (s.status === 'executed' && !answered.has(s.step)) {
          answered.add(s.step);
          const response = (scenario.responses?.[s.action] as WorldResponse | undefined) ?? 'no_effect';
          await playResponse(ctx.config, names, response);
        }
      }
      const waitingOnNothing = state === 'planned' && steps.length === 0;
      if (state === null || isTerminal(state) || waitingOnNothing) break;
      await new Promise((r) => setTimeout(r, 150));
    }
  } finally {
    lambda.destroy();
  }
  const incident = (
    await ctx.pool.query('SELECT state, closed_at FROM incidents WHERE id = $1', [incidentId])
  ).rows[0] as { state: string; closed_at: Date | null } | undefined;
  const executed = steps.filter((s) => s.executed_at && s.mode !== 'observe');
  const firstExecuted = executed[0]?.executed_at;
  const closed = incident ? isTerminal(incident.state as IncidentState) : false;
  const learned =
    closed &&
    (await waitForLearning(
      ctx.pool,
      incidentId,
      Math.min(15_000, Math.max(0, deadline - Date.now()) + 5_000),
    ));
  return {
    firstAction: steps[0]?.action ?? (state === 'escalated' ? 'escalate' : 'none'),
    actions: steps.map((s) => ({
      step: s.step,
      action: s.action,
      mode: s.mode,
      status: s.status,
      undone: s.undone,
    })),
    resolved: incident?.state === 'resolved',
    undoUsed: steps.some((s) => s.undone),
    finalState: incident?.state ?? null,
    policyViolations: await policyViolations(ctx.pool, incidentId, executed),
    timeToActionMs: firstExecuted ? new Date(firstExecuted).getTime() - detectedAt.getTime() : null,
    timeToResolveMs:
      incident?.state === 'resolved' && incident.closed_at
        ? new Date(incident.closed_at).getTime() - detectedAt.getTime()
        : null,
    learned,
    notified: (
      await ctx.pool.query('SELECT channel FROM notifications WHERE incident_id = $1 ORDER BY channel', [
        incidentId,
      ])
    ).rows.map((r) => r.channel as string),
  };
}

/** Waits for the learn agent's row for a closed incident (it follows the close through the bus). */
async function waitForLearning(pool: Pool, incidentId: string, timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const { rows } = await pool.query('SELECT 1 FROM incident_learnings WHERE incident_id = $1', [
      incidentId,
    ]);
    if (rows.length > 0) return true;
    if (Date.now() > until) return false;
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * An executed action is a violation unless the audit log shows the policy
 * allowing exactly it (`auto:<action>`), or asking for approval and a human
 * approving it — and the act agent's own re-check starting it.
 */
async function policyViolations(pool: Pool, incidentId: string, executed: StepRow[]): Promise<string[]> {
  if (executed.length === 0) return [];
  const audit = (
    await pool.query(
      'SELECT actor, action, result, inputs FROM audit_log WHERE incident_id = $1 ORDER BY id',
      [incidentId],
    )
  ).rows as { actor: string; action: string; result: string; inputs: { stepNo?: number; key?: string } }[];
  const problems: string[] = [];
  for (const s of executed) {
    const decision = audit.find((a) => a.action === 'policy.decision' && a.inputs.stepNo === s.step);
    const allowedAuto = decision?.result === `auto:${s.action}`;
    const approvedByHuman =
      decision?.result === `awaiting_approval:${s.action}` &&
      audit.some(
        (a) => a.action === 'approval.decision' && a.result === 'approved' && a.actor.startsWith('human:'),
      );
    const started = audit.some(
      (a) => a.action === 'action.started' && a.inputs.key === `${incidentId}:${s.step}`,
    );
    if (!(allowedAuto || approvedByHuman) || !started)
      problems.push(
        `step ${s.step} ${s.action} executed without ${started ? 'a policy decision allowing it' : 'the act agent starting it'}`,
      );
  }
  return problems;
}
