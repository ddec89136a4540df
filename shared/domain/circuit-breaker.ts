import type { Clock } from './ports.ts';

/**
 * Opens after `threshold` failures in a row and stays open for `coolDownMs`;
 * then one call is let through (half-open): success closes it, failure
 * re-opens it. Per Lambda container — enough to stop hammering a throttled
 * dependency, cheap to lose on a cold start.
 */
export class CircuitBreaker {
  private failures = 0;
  private openUntil = 0;

  constructor(
    private readonly clock: Clock,
    private readonly threshold = 3,
    private readonly coolDownMs = 60_000,
  ) {}

  isOpen(): boolean {
    return this.clock.now().getTime() < this.openUntil;
  }

  success(): void {
    this.failures = 0;
    this.openUntil = 0;
  }

  failure(): void {
    this.failures += 1;
    if (this.failures >= this.threshold) this.openUntil = this.clock.now().getTime() + this.coolDownMs;
  }
}
