import { describe, expect, it } from 'vitest';
import { parseEnv } from '../env.js';

describe('WORKER_PROCESSES', () => {
  it('defaults to processing in the API process, at a lower priority when forked', () => {
    const env = parseEnv({});
    expect(env.WORKER_PROCESSES).toBe(0);
    expect(env.WORKER_NICE).toBe(10);
    expect(env.SETTLE_ROLE).toBe('api');
  });

  it('needs PostgreSQL: the embedded database belongs to one process', () => {
    expect(() => parseEnv({ WORKER_PROCESSES: '1' })).toThrow(/WORKER_PROCESSES needs DATABASE_URL/);
    expect(parseEnv({ WORKER_PROCESSES: '2', DATABASE_URL: 'postgres://u@127.0.0.1:5432/d' }).WORKER_PROCESSES).toBe(2);
  });

  it('refuses a priority outside nice 0–19 and a role that is not one', () => {
    expect(() => parseEnv({ WORKER_NICE: '-5' })).toThrow(/WORKER_NICE/);
    expect(() => parseEnv({ WORKER_NICE: '20' })).toThrow(/WORKER_NICE/);
    expect(() => parseEnv({ SETTLE_ROLE: 'both' })).toThrow(/SETTLE_ROLE/);
  });
});

describe('STRIPE_READS_AT_ONCE', () => {
  it('defaults to 8 reads in flight and refuses none or more than Stripe allows a second', () => {
    expect(parseEnv({}).STRIPE_READS_AT_ONCE).toBe(8);
    expect(parseEnv({ STRIPE_READS_AT_ONCE: '25' }).STRIPE_READS_AT_ONCE).toBe(25);
    expect(() => parseEnv({ STRIPE_READS_AT_ONCE: '0' })).toThrow(/STRIPE_READS_AT_ONCE/);
    expect(() => parseEnv({ STRIPE_READS_AT_ONCE: '101' })).toThrow(/STRIPE_READS_AT_ONCE/);
  });
});

describe('WORKER_EVENTS_PER_TRANSACTION', () => {
  it('defaults to 25 events a transaction and refuses none', () => {
    expect(parseEnv({}).WORKER_EVENTS_PER_TRANSACTION).toBe(25);
    expect(parseEnv({ WORKER_EVENTS_PER_TRANSACTION: '100' }).WORKER_EVENTS_PER_TRANSACTION).toBe(100);
    expect(() => parseEnv({ WORKER_EVENTS_PER_TRANSACTION: '0' })).toThrow(/WORKER_EVENTS_PER_TRANSACTION/);
  });
});
