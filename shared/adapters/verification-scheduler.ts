import { ConflictException, CreateScheduleCommand, type SchedulerClient } from '@aws-sdk/client-scheduler';
import type { Envelope } from '../events/envelope.ts';

export interface ScheduleTarget {
  /** The function the schedule invokes. */
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
 * One-time EventBridge Scheduler schedules that invoke a Lambda function with
 * the given input and delete themselves after firing. Idempotent by name.
 */
export class OneTimeSchedules {
  constructor(
    private readonly client: SchedulerClient,
    private readonly target: ScheduleTarget,
  ) {}

  async schedule(name: string, input: object, at: Date, description: string): Promise<'created' | 'exists'> {
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
            Input: JSON.stringify(input),
            RetryPolicy: { MaximumRetryAttempts: 10, MaximumEventAgeInSeconds: 3600 },
          },
          Description: description,
        }),
      );
      return 'created';
    } catch (error) {
      if (error instanceof ConflictException) return 'exists';
      throw error;
    }
  }
}

/** Schedules a verification check: the verify agent gets an EventBridge-shaped event when it is due. */
export class SchedulerVerification {
  private readonly schedules: OneTimeSchedules;

  constructor(client: SchedulerClient, target: ScheduleTarget) {
    this.schedules = new OneTimeSchedules(client, target);
  }

  schedule(name: string, envelope: Envelope, at: Date): Promise<'created' | 'exists'> {
    return this.schedules.schedule(
      name,
      { source: envelope.source, 'detail-type': envelope.type, time: envelope.time, detail: envelope },
      at,
      `Homeostat: verify incident ${envelope.incidentId}`,
    );
  }
}
