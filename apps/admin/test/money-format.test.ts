import { describe, expect, it } from 'vitest';
import { minorDigits, money, toMinor } from '../src/lib/format.js';

describe("amounts in each currency's smallest unit, as Stripe counts them", () => {
  it.each([
    ['usd', 2, 995, '$9.95', '9.95'],
    ['jpy', 0, 100000, '¥100,000', '100000'],
    ['kwd', 3, 5250, 'KWD 5.250', '5.25'],
    // Zero-decimal, but Stripe takes two decimals for backwards compatibility: 5 ISK is 500.
    ['isk', 2, 500, 'ISK 5', '5'],
  ] as const)('%s: %i decimals; %i shows as %s and is typed as %s', (currency, digits, amount, shown, typed) => {
    expect(minorDigits(currency)).toBe(digits);
    expect(money(amount, currency).replace(/\u00a0/g, ' ')).toBe(shown);
    expect(toMinor(typed, currency)).toBe(amount);
  });

  it('refuses what is not an amount of the currency: more decimals than it has, signs, words', () => {
    expect(toMinor('1.5', 'jpy')).toBeNaN();
    expect(toMinor('1.2345', 'kwd')).toBeNaN();
    expect(toMinor('9.951', 'usd')).toBeNaN();
    expect(toMinor('-5', 'usd')).toBeNaN();
    expect(toMinor('5e3', 'usd')).toBeNaN();
    expect(toMinor('ten', 'usd')).toBeNaN();
    expect(toMinor('9.50', 'usd')).toBe(950);
    expect(toMinor('.5', 'usd')).toBe(50);
  });
});
