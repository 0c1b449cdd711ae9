import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, TEST_BACKENDS, type TestDatabase } from '../testing.js';
import { listOrdersForAdmin } from './order-search.repository.js';
import { insertOrder, listOrdersForUser, type OrderCursor } from './order.repository.js';

describe.each(TEST_BACKENDS)('order keyset pagination on %s', (kind) => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase(kind);
  });
  afterAll(async () => {
    await t.dispose();
  });

  it('never skips rows created within the same millisecond', async () => {
    // Five orders inside one millisecond, microseconds apart, plus two sharing one instant.
    const times = ['123100', '123200', '123300', '123300', '123900', '124000', '124000'];
    const ids: string[] = [];
    for (const us of times) {
      const id = randomUUID();
      ids.push(id);
      await insertOrder(t.db, {
        id, user_id: 'pager', product_id: 'credits10', amount: 100, currency: 'usd', status: 'pending', handler: 'new',
        created_at: `2026-01-01T00:00:00.${us}Z`,
      });
    }
    for (const list of [
      (cursor?: OrderCursor) => listOrdersForUser(t.db, 'pager', { limit: 2, cursor }),
      (cursor?: OrderCursor) => listOrdersForAdmin(t.db, { search: 'pager', limit: 2, cursor }),
    ]) {
      const seen: string[] = [];
      let cursor: OrderCursor | undefined;
      for (let page = 0; page < 10; page++) {
        const rows = await list(cursor);
        seen.push(...rows.map((r) => r.id));
        const last = rows.at(-1);
        if (rows.length < 2 || !last) break;
        cursor = { createdAt: last.cursor_at, id: last.id };
      }
      expect(seen.sort()).toEqual([...ids].sort());
    }
  });
});
