import { ConflictException, CreateScheduleCommand, type SchedulerClient } from '@aws-sdk/client-scheduler';
import type { Envelope } from '../events/envelope.ts';

export interface ScheduleTarget {
  /** The verify agent's function ARN. */
  functionArn: string;
  /** The role EventBridge Scheduler assumes to invoke it. */
  roleArn: string;
  /** @default 'default' */
  groupName?: string;
}

/** One schedule per step and check: a retried act or verify finds the schedule already there. */
export const verificationScheduleName = (incidentId: string, step: number, check: number) =>
  `homeostat-verify-${incidentId}-${step}-${check}`;

/**
 * Schedules a verification check as a one-time EventBridge Scheduler schedule
 * that invokes the verify agent with an EventBridge-shaped event and deletes
 * itself after firing. Idempotent by name.
 */
export class SchedulerVerification {
  constructor(
    private readonly client: SchedulerClient,
    private readonly target: ScheduleTarget,
  ) {}

  async schedule(name: string, envelope: Envelope, at: Date): Promise<'created' | 'exists'> {
    // Scheduler's at() takes whole seconds, UTC, without a zone suffix.
    const when = at.toISOString().slice(0, 19);
    try {
      await this.client.send(
        new CreateScheduleCommand({
          Name: name,
          GroupName: this.target.groupName ?? 'default',
          ScheduleExpression: `at(${when})`,
          ScheduleExpressionTimezone: 'UTC',
          FlexibleTimeWindow: { Mode: 'OFF' },
          ActionAfterCompletion: 'DELETE',
          Target: {
            Arn: this.target.functionArn,
            RoleArn: this.target.roleArn,
            Input: JSON.stringify({
              source: envelope.source,
              'detail-type': envelope.type,
              time: envelope.time,
              detail: envelope,
            }),
            RetryPolicy: { MaximumRetryAttempts: 10, MaximumEventAgeInSeconds: 3600 },
          },
          Description: `Homeostat: verify incident ${envelope.incidentId}`,
        }),
      );
      return 'created';
    } catch (error) {
      if (error instanceof ConflictException) return 'exists';
      throw error;
    }
  }
}
