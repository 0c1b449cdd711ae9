import { describe, expect, it } from 'vitest';
import { parseEnv } from '../env.js';
import { createRateLimits, LOGIN_LIMITS } from './rate-limits.js';

const env = parseEnv({ RATE_LIMIT_CHECKOUT_PER_MIN: '3', SUBSCRIPTIONS_PER_USER: '2' });

describe('sign-in throttling (in memory)', () => {
  it('locks an address and account after 5 failures, an address after 50, an account after 20 across addresses', async () => {
    const { login } = createRateLimits(env, null);
    for (let i = 0; i < LOGIN_LIMITS.perAddressAndAccount - 1; i++) expect(await login.failed('1.1.1.1', 'a@x.io')).toEqual([]);
    expect(await login.failed('1.1.1.1', 'a@x.io')).toEqual(['address and account']);
    expect(await login.retryAfter('1.1.1.1', 'a@x.io')).toBeGreaterThan(0);
    expect(await login.retryAfter('1.1.1.1', 'b@x.io')).toBeNull();
    expect(await login.retryAfter('2.2.2.2', 'a@x.io')).toBeNull();

    // Many addresses guessing one account.
    for (let i = 0; i < env.LOGIN_FAILURES_PER_ACCOUNT - LOGIN_LIMITS.perAddressAndAccount - 1; i++) await login.failed(`10.0.0.${i}`, 'a@x.io');
    expect(await login.failed('10.0.1.1', 'a@x.io')).toEqual(['account']);
    expect(await login.retryAfter('3.3.3.3', 'a@x.io')).toBeGreaterThan(0);

    // One address spraying many accounts.
    for (let i = 0; i < env.LOGIN_FAILURES_PER_ADDRESS - 1; i++) await login.failed('9.9.9.9', `u${i}@x.io`);
    expect(await login.failed('9.9.9.9', 'last@x.io')).toEqual(['address']);
    expect(await login.retryAfter('9.9.9.9', 'fresh@x.io')).toBeGreaterThan(0);
  });

  it('a success clears that address and account', async () => {
    const { login } = createRateLimits(env, null);
    for (let i = 0; i < 4; i++) await login.failed('1.1.1.1', 'a@x.io');
    await login.succeeded('1.1.1.1', 'a@x.io');
    await login.failed('1.1.1.1', 'a@x.io');
    expect(await login.retryAfter('1.1.1.1', 'a@x.io')).toBeNull();
  });
});

describe('request limits and stream slots', () => {
  it('refuses past the limit with the seconds to wait', async () => {
    const limits = createRateLimits(env, null);
    for (let i = 0; i < 3; i++) expect(await limits.checkout('u1')).toBeNull();
    const wait = await limits.checkout('u1');
    expect(wait).toBeGreaterThan(0);
    expect(wait).toBeLessThanOrEqual(60);
    expect(await limits.checkout('u2')).toBeNull();
  });

  it('caps open streams per user and frees a slot once', () => {
    const limits = createRateLimits(env, null);
    const a = limits.openStream('u1')!;
    const b = limits.openStream('u1')!;
    expect(limits.openStream('u1')).toBeNull();
    a();
    a();
    expect(limits.openStream('u1')).not.toBeNull();
    expect(limits.openStream('u1')).toBeNull();
    b();
  });
});
