import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_RETRY_POLICY, nextRetry, type RetryPolicy } from './retry-policy.js';

const POLICY: RetryPolicy = { baseDelayMs: 1_000, maxDelayMs: 10_000, maxAttempts: 8 };
const delay = (attempts: number, random: number, policy = POLICY) => {
  const v = nextRetry(policy, attempts, random);
  if (!v.retry) throw new Error(`no retry after ${attempts} attempts`);
  return v.delayMs;
};

describe('nextRetry', () => {
  it.each([
    // attempts, full (capped) delay: jitter lands in [full / 2, full]
    [0, 1_000],
    [1, 1_000],
    [2, 2_000],
    [3, 4_000],
    [4, 8_000],
    [5, 10_000],
    [7, 10_000],
  ])('after %i attempt(s) the delay is between half and all of %i ms', (attempts, full) => {
    expect(delay(attempts, 0)).toBe(full / 2);
    expect(delay(attempts, 0.5)).toBe((3 * full) / 4);
    expect(delay(attempts, 0.999_999)).toBe(full);
  });

  it('grows with each attempt until the cap', () => {
    const delays = [1, 2, 3, 4].map((n) => delay(n, 0));
    delays.slice(1).forEach((d, i) => expect(d).toBe(2 * delays[i]!));
  });

  it('is capped at maxDelayMs even after many attempts', () => {
    const huge = { ...POLICY, maxAttempts: 10_000 };
    expect(delay(2_000, 0.999_999, huge)).toBe(10_000);
    expect(delay(2_000, 0, huge)).toBe(5_000);
  });

  it('keeps the jitter within [capped / 2, capped] and never above maxDelayMs', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 11 }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (attempts, r) => {
        const d = delay(attempts, r, DEFAULT_RETRY_POLICY);
        const low = delay(attempts, 0, DEFAULT_RETRY_POLICY);
        expect(Number.isInteger(d)).toBe(true);
        expect(d).toBeGreaterThanOrEqual(low);
        expect(d).toBeLessThanOrEqual(Math.min(2 * low, DEFAULT_RETRY_POLICY.maxDelayMs));
      }),
    );
  });

  it('stops at maxAttempts', () => {
    expect(nextRetry(POLICY, POLICY.maxAttempts - 1, 0.3).retry).toBe(true);
    expect(nextRetry(POLICY, POLICY.maxAttempts, 0.3)).toEqual({ retry: false });
    expect(nextRetry(POLICY, POLICY.maxAttempts + 5, 0.3)).toEqual({ retry: false });
    expect(nextRetry(DEFAULT_RETRY_POLICY, 12, 0)).toEqual({ retry: false });
  });
});
