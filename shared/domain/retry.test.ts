import { describe, expect, it } from 'vitest';
import { withRetry } from './retry.ts';

const noSleep = () => {
  const delays: number[] = [];
  return { delays, sleep: async (ms: number) => void delays.push(ms) };
};

describe('withRetry', () => {
  it('retries until the operation succeeds', async () => {
    const { delays, sleep } = noSleep();
    let calls = 0;
    const result = await withRetry(
      async () => {
        calls += 1;
        if (calls < 3) throw new Error('flaky');
        return 'ok';
      },
      { sleep, random: () => 1 },
    );
    expect(result).toBe('ok');
    expect(calls).toBe(3);
    expect(delays).toEqual([100, 200]);
  });

  it('gives up after the last attempt and rethrows the last error', async () => {
    const { delays, sleep } = noSleep();
    let calls = 0;
    await expect(
      withRetry(
        async () => {
          calls += 1;
          throw new Error(`failure ${calls}`);
        },
        { attempts: 4, sleep, random: () => 1, maxDelayMs: 250 },
      ),
    ).rejects.toThrow('failure 4');
    expect(delays).toEqual([100, 200, 250]);
  });

  it('does not retry an error that is not retryable', async () => {
    const { delays, sleep } = noSleep();
    let calls = 0;
    await expect(
      withRetry(
        async () => {
          calls += 1;
          throw new Error('syntax error');
        },
        { sleep, retryable: () => false },
      ),
    ).rejects.toThrow('syntax error');
    expect(calls).toBe(1);
    expect(delays).toEqual([]);
  });

  it('applies full jitter below the exponential bound', async () => {
    const { delays, sleep } = noSleep();
    let calls = 0;
    await withRetry(
      async () => {
        calls += 1;
        if (calls < 3) throw new Error('x');
      },
      { sleep, random: () => 0.5 },
    );
    expect(delays).toEqual([50, 100]);
  });
});
