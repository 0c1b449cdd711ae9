import { describe, expect, it } from 'vitest';
import { trialOfferFor } from './trial-offer.js';

describe('trialOfferFor: one free trial per customer and plan', () => {
  it.each([
    [14, false, { offered: true, days: 14 }],
    [14, true, { offered: false, days: 14, reason: 'plan_subscribed_before' }],
    [undefined, false, null],
    [undefined, true, null],
    [null, true, null],
  ] as const)('trialDays %s, had the plan before %s → %j', (days, had, expected) => {
    expect(trialOfferFor(days, had)).toEqual(expected);
  });
});
