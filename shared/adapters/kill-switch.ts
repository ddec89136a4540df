import type { SSMClient } from '@aws-sdk/client-ssm';
import { readParameter } from './parameters.ts';

/** Values of the kill-switch parameter that stop every action (case-insensitive). */
const engagedValues = new Set(['on', 'true', 'engaged', 'stop']);

/** Whether a parameter value engages the kill switch. */
export const isEngagedValue = (value: string | null | undefined) =>
  engagedValues.has((value ?? '').trim().toLowerCase());

export interface KillSwitchReading {
  engaged: boolean;
  /** Why, when engaged by anything other than the parameter's value (it could not be read). */
  reason: string | null;
}

/**
 * The kill switch: an SSM parameter, read at most every `ttlMs` (10 s by
 * default, so flipping it takes effect within seconds). A missing parameter
 * means off; a parameter that cannot be read means ON — when in doubt,
 * Homeostat does not act.
 */
export class SsmKillSwitch {
  private cached: { reading: KillSwitchReading; until: number } | null = null;

  constructor(
    private readonly ssm: SSMClient,
    readonly parameterName: string,
    private readonly ttlMs = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  async read(): Promise<KillSwitchReading> {
    if (this.cached && this.cached.until > this.now()) return this.cached.reading;
    const reading = await this.fetch();
    this.cached = { reading, until: this.now() + this.ttlMs };
    return reading;
  }

  private async fetch(): Promise<KillSwitchReading> {
    try {
      // Fresh from SSM: this reading (missing and unreadable included) is what is cached.
      return { engaged: isEngagedValue(await readParameter(this.ssm, this.parameterName)), reason: null };
    } catch (error) {
      return {
        engaged: true,
        reason: `the kill switch ${this.parameterName} could not be read (${(error as Error).name}): failing safe`,
      };
    }
  }
}
