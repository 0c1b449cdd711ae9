import { describe, expect, it } from 'vitest';
import { parseEnv } from '../env.js';
import { nextDeliveryStep } from './delivery-schedule.js';

describe('host webhook retry schedule', () => {
  it('follows Svix: immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h, then dead after the 10th attempt', () => {
    const env = parseEnv({});
    const schedule = { delaysMs: env.HOST_WEBHOOK_RETRY_DELAYS_MS, maxAttempts: env.HOST_WEBHOOK_MAX_ATTEMPTS };
    const steps = Array.from({ length: 11 }, (_, i) => nextDeliveryStep(i + 1, schedule));
    const s = 1000;
    const h = 3600 * s;
    expect(steps.map((x) => (x.kind === 'retry' ? x.delayMs : 'dead'))).toEqual([
      5 * s, 300 * s, 1800 * s, 2 * h, 5 * h, 10 * h, 10 * h, 10 * h, 10 * h, 'dead', 'dead',
    ]);
  });

  it('gives up at once with one attempt allowed', () => {
    expect(nextDeliveryStep(1, { delaysMs: [0, 10], maxAttempts: 1 })).toEqual({ kind: 'dead' });
  });
});
