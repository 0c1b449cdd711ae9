import { RATE_LIMIT_TABLE } from '@settle/db';
import type pg from 'pg';
import { RateLimiterMemory, RateLimiterPostgres, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Env } from '../env.js';

/**
 * Every limit Settle puts on callers, built on rate-limiter-flexible.
 *
 * Where the count lives: the limits that guard something shared (sign-in guessing, Stripe
 * Checkout calls) are counted in PostgreSQL when Settle runs on it, so they hold across any number
 * of instances, with an in-memory count standing in while the database does not answer. The
 * per-request limits (per address, per user) are counted in memory: each instance counts its own,
 * so N instances allow N times the configured rate. On PGlite every count is in memory (one
 * process owns the data folder).
 */
export type RateLimits = {
  /** One tRPC procedure call from this address: null when allowed, else seconds to wait. */
  request(ip: string): Promise<number | null>;
  /** One end-user procedure call. */
  userRequest(userId: string): Promise<number | null>;
  /** One `checkout.create` (a Stripe API call) of this user. */
  checkout(userId: string): Promise<number | null>;
  login: LoginThrottle;
  /** A live status stream for this user: a release function, or null when the user has too many open. */
  openStream(userId: string): (() => void) | null;
};

export type LockScope = 'address and account' | 'address' | 'account';

/**
 * Failed console sign-ins, counted per address and account (guessing one password), per address
 * (spraying many accounts) and per account across addresses (guessing from many addresses). A
 * scope that reaches its limit refuses sign-ins, even correct ones, for the rest of its window.
 */
export type LoginThrottle = {
  /** Null when a sign-in may be tried now, else the seconds until one may. */
  retryAfter(ip: string, email: string): Promise<number | null>;
  /** Count a failure; returns the scopes this failure locked (each is audited once). */
  failed(ip: string, email: string): Promise<LockScope[]>;
  succeeded(ip: string, email: string): Promise<void>;
};

/** Five failures lock an address and account pair; the other two limits come from the environment. */
export const LOGIN_LIMITS = { perAddressAndAccount: 5, windowSeconds: 15 * 60 } as const;

const seconds = (res: RateLimiterRes) => Math.max(1, Math.ceil(res.msBeforeNext / 1000));

export function createRateLimits(env: Env, pool: pg.Pool | null): RateLimits {
  const memory = (keyPrefix: string, points: number, duration: number) => new RateLimiterMemory({ keyPrefix, points, duration });
  const shared = (keyPrefix: string, points: number, duration: number): RateLimiterAbstract =>
    pool
      ? new RateLimiterPostgres({
          storeClient: pool,
          tableName: RATE_LIMIT_TABLE,
          tableCreated: true,
          keyPrefix,
          points,
          duration,
          insuranceLimiter: memory(keyPrefix, points, duration),
        })
      : memory(keyPrefix, points, duration);

  const consume = async (limiter: RateLimiterAbstract, key: string): Promise<number | null> => {
    try {
      await limiter.consume(key);
      return null;
    } catch (res) {
      if (res instanceof RateLimiterRes) return seconds(res);
      throw res;
    }
  };

  const perIp = memory('ip', env.RATE_LIMIT_IP_PER_MIN, 60);
  const perUser = memory('user', env.RATE_LIMIT_USER_PER_MIN, 60);
  const checkout = shared('checkout', env.RATE_LIMIT_CHECKOUT_PER_MIN, 60);

  const w = LOGIN_LIMITS.windowSeconds;
  const login: { scope: LockScope; limiter: RateLimiterAbstract; points: number; key: (ip: string, email: string) => string }[] = [
    { scope: 'address and account', limiter: shared('login_ip_account', LOGIN_LIMITS.perAddressAndAccount, w), points: LOGIN_LIMITS.perAddressAndAccount, key: (ip, email) => `${ip}|${email}` },
    { scope: 'address', limiter: shared('login_ip', env.LOGIN_FAILURES_PER_ADDRESS, w), points: env.LOGIN_FAILURES_PER_ADDRESS, key: (ip) => ip },
    { scope: 'account', limiter: shared('login_account', env.LOGIN_FAILURES_PER_ACCOUNT, w), points: env.LOGIN_FAILURES_PER_ACCOUNT, key: (_ip, email) => email },
  ];

  const streams = new Map<string, number>();

  return {
    request: (ip) => consume(perIp, ip),
    userRequest: (userId) => consume(perUser, userId),
    checkout: (userId) => consume(checkout, userId),
    login: {
      async retryAfter(ip, email) {
        let wait: number | null = null;
        for (const l of login) {
          const res = await l.limiter.get(l.key(ip, email));
          if (res && res.consumedPoints >= l.points) wait = Math.max(wait ?? 0, seconds(res));
        }
        return wait;
      },
      async failed(ip, email) {
        const locked: LockScope[] = [];
        for (const l of login) {
          const res = await l.limiter.penalty(l.key(ip, email), 1);
          if (res.consumedPoints === l.points) locked.push(l.scope);
        }
        return locked;
      },
      async succeeded(ip, email) {
        await login[0]!.limiter.delete(login[0]!.key(ip, email));
      },
    },
    openStream(userId) {
      const open = streams.get(userId) ?? 0;
      if (open >= env.SUBSCRIPTIONS_PER_USER) return null;
      streams.set(userId, open + 1);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        const left = (streams.get(userId) ?? 1) - 1;
        if (left > 0) streams.set(userId, left);
        else streams.delete(userId);
      };
    },
  };
}
