/**
 * When a failed event is tried again. Pure: the caller passes the attempt number and a random
 * number in [0, 1) for the jitter.
 */
export type RetryPolicy = {
  /** Delay before the 2nd attempt, in milliseconds; doubled for each further attempt. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** After this many attempts the event is dead. */
  maxAttempts: number;
};

export const DEFAULT_RETRY_POLICY: RetryPolicy = { baseDelayMs: 1_000, maxDelayMs: 3_600_000, maxAttempts: 12 };

export type RetryVerdict = { retry: true; delayMs: number } | { retry: false };

/** Exponential backoff with "full jitter" between half and all of the capped delay. */
export function nextRetry(policy: RetryPolicy, attempts: number, random: number): RetryVerdict {
  if (attempts >= policy.maxAttempts) return { retry: false };
  const capped = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, attempts - 1));
  return { retry: true, delayMs: Math.round(capped / 2 + (capped / 2) * random) };
}
