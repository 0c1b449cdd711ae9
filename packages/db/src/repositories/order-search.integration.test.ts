import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, TEST_BACKENDS, type TestDatabase } from '../testing.js';
import { listOrdersForAdmin, searchCore, type AdminOrderFilter } from './order-search.repository.js';
import { insertOrder, type OrderCursor } from './order.repository.js';

type Seeded = {
  id: string;
  user_id: string;
  customer_email: string | null;
  checkout_session_id: string | null;
  payment_intent_id: string | null;
  stripe_customer_id: string | null;
  product_id: string;
  status: string;
  created_at: string;
};

/** Stripe-like random part: mixed case letters and digits. */
function stripeSuffix(n: number): string {
  const abc = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
  return [...randomBytes(n)].map((b) => abc[b % abc.length]).join('');
}

/** What the console promises: the term anywhere in one id, the user id or the e-mail, ignoring case. */
function oracle(orders: Seeded[], term: string, f: { status?: string; productIds?: string[] } = {}): string[] {
  const s = term.trim().toLowerCase();
  return orders
    .filter((o) => !f.status || o.status === f.status)
    .filter((o) => {
      const fields = [o.id, o.user_id, o.customer_email, o.checkout_session_id, o.payment_intent_id, o.stripe_customer_id];
      return fields.some((v) => v?.toLowerCase().includes(s)) || (f.productIds ?? []).includes(o.product_id);
    })
    .sort((a, b) => (a.created_at === b.created_at ? (a.id < b.id ? 1 : -1) : a.created_at < b.created_at ? 1 : -1))
    .map((o) => o.id);
}

describe('searchCore', () => {
  it('asks the index for the tail of a long alphanumeric run, or for the whole term', () => {
    expect(searchCore('pi_3qabcdefghijklmnop')).toBe('ijklmnop');
    expect(searchCore('cus_abcdefgh')).toBe('abcdefgh');
    expect(searchCore('buyer1234@example.com')).toBe('uyer1234');
    expect(searchCore('user_13')).toBeNull();
    expect(searchCore('user_4321', 'text')).toBe('4321');
    expect(searchCore('order-12345', 'text')).toBe('12345');
    expect(searchCore('user_4321', 'ids')).toBeNull();
    expect(searchCore('4321', 'text')).toBeNull();
    expect(searchCore('user_43a', 'text')).toBeNull();
    expect(searchCore('user_50', 'text')).toBe('_50');
    expect(searchCore('user 5', 'text')).toBe(' 5');
    expect(searchCore('user_50_', 'text')).toBeNull();
    expect(searchCore('example')).toBeNull();
    expect(searchCore('ünïcödé-wörd')).toBeNull();
  });
});

describe.each(TEST_BACKENDS)('console order search on %s', (kind) => {
  let t: TestDatabase;
  const orders: Seeded[] = [];
  beforeAll(async () => {
    t = await createTestDatabase(kind);
    for (let i = 0; i < 60; i++) {
      const o: Seeded = {
        id: randomUUID(),
        // User_1 … User_12: "user_1" is in four of them, "user_12" in one.
        user_id: `User_${1 + (i % 12)}`,
        customer_email: i % 4 === 0 ? null : `Buyer${i % 5}@Example.org`,
        checkout_session_id: `cs_test_${stripeSuffix(24)}`,
        payment_intent_id: i % 6 === 5 ? null : `pi_3Q${stripeSuffix(22)}`,
        stripe_customer_id: i % 3 === 0 ? null : `cus_${stripeSuffix(14)}`,
        product_id: i % 10 === 0 ? 'plan_pro' : 'credits10',
        status: i % 3 === 0 ? 'succeeded' : 'pending',
        // Pairs share a timestamp: the id breaks the tie.
        created_at: new Date(Date.UTC(2026, 0, 1, 0, 0, Math.floor(i / 2))).toISOString(),
      };
      orders.push(o);
      await insertOrder(t.db, { ...o, amount: 100, currency: 'usd', handler: 'new' });
    }
    // LIKE's wildcards in the data, to show they are matched as themselves.
    const odd: Seeded = { ...orders[0]!, id: randomUUID(), user_id: 'odd%user_x Of Many Words', customer_email: null, checkout_session_id: null, payment_intent_id: null, stripe_customer_id: null, created_at: '2026-01-01T00:01:00.000Z' };
    orders.push(odd);
    await insertOrder(t.db, { ...odd, amount: 100, currency: 'usd', handler: 'new' });
    // Numbered user ids: the index is asked for the number only, the exact test checks the rest.
    for (const [k, user_id] of ['User_4321', 'User_43210', 'acct-4321-x'].entries()) {
      const numbered: Seeded = { ...orders[1]!, id: randomUUID(), user_id, checkout_session_id: null, payment_intent_id: null, stripe_customer_id: null, created_at: `2026-01-01T00:02:0${k}.000Z` };
      orders.push(numbered);
      await insertOrder(t.db, { ...numbered, amount: 100, currency: 'usd', handler: 'new' });
    }
  });
  afterAll(async () => {
    await t.dispose();
  });

  /** Every page of a search, walked by cursor. */
  async function pageThrough(f: Omit<AdminOrderFilter, 'limit' | 'cursor'>, limit: number): Promise<string[]> {
    const seen: string[] = [];
    let cursor: OrderCursor | undefined;
    for (let page = 0; page < 100; page++) {
      const rows = await listOrdersForAdmin(t.db, { ...f, limit, cursor });
      seen.push(...rows.map((r) => r.id));
      const last = rows.at(-1);
      if (rows.length < limit || !last) return seen;
      cursor = { createdAt: last.cursor_at, id: last.id };
    }
    throw new Error('more than 100 pages');
  }

  const pick = (i: number) => orders[i]!;
  const terms = (): [string, string][] => [
    ['full PaymentIntent id', pick(7).payment_intent_id!],
    ['PaymentIntent id in other case', pick(7).payment_intent_id!.toUpperCase()],
    ['8-character PaymentIntent prefix', pick(8).payment_intent_id!.slice(0, 11)],
    ['middle of a Checkout Session id', pick(9).checkout_session_id!.slice(12, 22)],
    ['full customer id', pick(10).stripe_customer_id!],
    ['full order id', pick(11).id],
    ['middle of an order id (short)', pick(11).id.slice(9, 13)],
    ['full e-mail', 'buyer3@example.org'],
    ['part of an e-mail', 'ER3@EXAM'],
    ['e-mail domain (most orders)', 'example.org'],
    ['user id, exact', 'user_12'],
    ['user id fragment (five users)', 'user_1'],
    ['fragment in every order', 'user_'],
    ['fragment in the middle of a user id', 'ser_7'],
    ['user id with a number (two users hold it)', 'user_4321'],
    ['number after another word (no match)', 'zz_4321'],
    ['number after a word, exact', 'acct-4321'],
    ['across two fields (no match)', 'user_2 buyer'],
    ['across an id and the next', `${pick(3).id.slice(-4)} cs_test`],
    ['with a space inside one field', 'X OF MANY'],
    ['LIKE wildcard %', '%'],
    ['LIKE wildcard _ is not "any character"', 'r_x'],
    ['Stripe prefix shared by all', 'pi_3q'],
    ['no match', 'zzzzzzzz'],
    ['padded', '  User_5  '],
  ];

  it('finds exactly the matching orders, newest first, at any scan cap and page size', async () => {
    for (const [name, term] of terms()) {
      const expected = oracle(orders, term);
      for (const searchScanRows of [1, 3, 7, 1000]) {
        for (const limit of [1, 2, 5, 100]) {
          expect(await pageThrough({ search: term, searchScanRows }, limit), `${name} (cap ${searchScanRows}, limit ${limit})`).toEqual(expected);
        }
      }
    }
  });

  it('matches fragments found by the walk and those left to the index alike', async () => {
    // "user_1" is in 4 of 12 users (1, 10, 11, 12): the newest 20 rows hold a page of 5, not of 15.
    const expected = oracle(orders, 'user_1');
    expect(expected.length).toBe(20);
    expect((await listOrdersForAdmin(t.db, { search: 'user_1', limit: 5, searchScanRows: 20 })).map((r) => r.id)).toEqual(expected.slice(0, 5));
    expect((await listOrdersForAdmin(t.db, { search: 'user_1', limit: 15, searchScanRows: 20 })).map((r) => r.id)).toEqual(expected.slice(0, 15));
    // "user_12" is in one user in twelve: the walk of 3 rows finds too few, the index the rest.
    expect((await listOrdersForAdmin(t.db, { search: 'user_12', limit: 2, searchScanRows: 3 })).map((r) => r.id)).toEqual(oracle(orders, 'user_12').slice(0, 2));
  });

  it('combines with the status filter and with products whose name matched', async () => {
    for (const [name, term] of terms()) {
      for (const searchScanRows of [2, 1000]) {
        expect(await pageThrough({ search: term, status: 'succeeded', searchScanRows }, 3), `${name} succeeded`).toEqual(oracle(orders, term, { status: 'succeeded' }));
        expect(await pageThrough({ search: term, searchProductIds: ['plan_pro'], searchScanRows }, 4), `${name} or plan_pro`).toEqual(
          oracle(orders, term, { productIds: ['plan_pro'] }),
        );
      }
    }
  });

  it('with filters a walk cannot serve, still exact', async () => {
    const rows = await listOrdersForAdmin(t.db, { search: pick(7).payment_intent_id!, stuckForMinutes: 0, status: 'pending', limit: 10 });
    expect(rows.map((r) => r.id)).toEqual(pick(7).status === 'pending' ? [pick(7).id] : []);
    expect(await listOrdersForAdmin(t.db, { search: 'user_1', incident: true, limit: 10 })).toEqual([]);
  });
});
