/** What happens after a failed attempt to deliver a webhook to the host. */
export type NextDeliveryStep = { kind: 'retry'; delayMs: number } | { kind: 'dead' };

export type DeliverySchedule = {
  /** Delay before attempt n+1 is `delaysMs[n]` (the last repeats); `delaysMs[0]` is the first attempt's. */
  delaysMs: readonly number[];
  maxAttempts: number;
};

/**
 * After `attemptsMade` failed attempts: try again after the schedule's next delay, or give up
 * (dead, replayable from the console) once `maxAttempts` were made.
 */
export function nextDeliveryStep(attemptsMade: number, schedule: DeliverySchedule): NextDeliveryStep {
  if (attemptsMade >= schedule.maxAttempts) return { kind: 'dead' };
  const delays = schedule.delaysMs;
  const delayMs = delays[Math.min(attemptsMade, delays.length - 1)] ?? 0;
  return { kind: 'retry', delayMs };
}
