import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, TEST_BACKENDS, type TestDatabase } from '../testing.js';
import { createInboxWriter, InboxBusyError, UnstorableEventError } from './inbox-writer.js';
import { getEvent } from './stripe-event.repository.js';

const event = (id: string, payloadText?: string) => ({
  id,
  type: 'customer.updated',
  object_id: 'cus_1',
  stripe_created: new Date(1_700_000_000_000),
  api_version: '2025-03-31.basil',
  payload: payloadText ?? JSON.stringify({ id, object: 'event' }),
});

describe.each(TEST_BACKENDS)('inbox writer on %s', (kind) => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase(kind);
  });
  afterAll(async () => {
    await t.dispose();
  });

  it('retries a refused group insert row by row: one bad payload never fails its batch-mates', async () => {
    const repaired: string[] = [];
    const writer = createInboxWriter(t.db, { maxConcurrentBatches: 1, pool: t.pool, onRepaired: (id) => repaired.push(id) });
    // The first write goes alone; the next 30 wait and go together, poison included.
    const writes = [
      writer.write(event('evt_group_0')),
      ...Array.from({ length: 12 }, (_, i) => writer.write(event(`evt_group_a${i}`))),
      writer.write(event('evt_poison_nul', '{"id":"evt_poison_nul","object":"event","name":"a\\u0000b"}')),
      writer.write(event('evt_poison_surrogate', '{"id":"evt_poison_surrogate","object":"event","name":"x\\ud800y","k\\udc00":1}')),
      writer.write(event('evt_poison_deep', `{"id":"evt_poison_deep","deep":${'['.repeat(20_000)}${']'.repeat(20_000)}}`)),
      ...Array.from({ length: 12 }, (_, i) => writer.write(event(`evt_group_b${i}`))),
    ];
    const results = await Promise.allSettled(writes);
    const byIndex = results.map((r) => (r.status === 'fulfilled' ? r.value : r.reason));
    // Every normal event stored; the repairable ones stored with U+FFFD; the deep one refused as unstorable.
    expect(byIndex.filter((v) => v === true)).toHaveLength(1 + 12 + 2 + 12);
    expect(byIndex[15]).toBeInstanceOf(UnstorableEventError);
    expect(repaired.sort()).toEqual(['evt_poison_nul', 'evt_poison_surrogate']);
    const nul = (await getEvent(t.db, 'evt_poison_nul'))!.payload as { name: string };
    expect(nul.name).toBe('a\uFFFDb');
    const surrogate = (await getEvent(t.db, 'evt_poison_surrogate'))!.payload as Record<string, unknown>;
    expect(surrogate).toMatchObject({ name: 'x\uFFFDy', 'k\uFFFD': 1 });
    expect(await getEvent(t.db, 'evt_poison_deep')).toBeUndefined();
    // A redelivery is a duplicate as before.
    expect(await writer.write(event('evt_group_a0'))).toBe(false);
  });

  it('writes concurrent events together: the first alone, every one that arrived meanwhile in the next insert and commit', async () => {
    const writer = createInboxWriter(t.db, { pool: t.pool });
    const ids = Array.from({ length: 20 }, (_, i) => `evt_together_${i}`);
    expect(await Promise.all(ids.map((id) => writer.write(event(id))))).toEqual(ids.map(() => true));
    // Rows written by one transaction share its id (xmin): two commits for twenty events.
    const perTx = await sql<{ n: number }>`select count(*)::int as n from stripe_events where id like 'evt_together_%' group by xmin::text order by n`.execute(t.db);
    expect(perTx.rows.map((r) => r.n)).toEqual([1, 19]);
  });

  it.runIf(kind === 'postgres')('two instances storing the same events in opposite orders at once never deadlock', async () => {
    // Each writer is an API instance with its own pool; Stripe redelivers to either.
    const [a, b] = [createInboxWriter(t.db, { pool: t.pool }), createInboxWriter(t.db, { pool: t.pool })];
    for (let round = 0; round < 10; round += 1) {
      const ids = Array.from({ length: 60 }, (_, i) => `evt_cross_${round}_${String(i).padStart(2, '0')}`);
      // One write each first, so the rest of each side queues into one multi-row insert.
      const results = await Promise.allSettled([...ids.map((id) => a.write(event(id))), ...[...ids].reverse().map((id) => b.write(event(id)))]);
      const refused = results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason));
      expect(refused).toEqual([]);
      // Each event stored once: one writer says stored, the other says duplicate.
      const stored = results.map((r) => (r as PromiseFulfilledResult<boolean>).value);
      for (let i = 0; i < ids.length; i += 1) expect([stored[i], stored[2 * ids.length - 1 - i]].sort()).toEqual([false, true]);
    }
  });

  it('refuses at once when the queue is full', async () => {
    const writer = createInboxWriter(t.db, { maxConcurrentBatches: 1, maxQueued: 2 });
    const writes = Array.from({ length: 5 }, (_, i) => writer.write(event(`evt_full_${i}`)));
    const results = await Promise.allSettled(writes);
    // One in flight, two queued, the rest refused without waiting.
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(3);
    for (const r of results.slice(3)) expect(r.status === 'rejected' && r.reason).toBeInstanceOf(InboxBusyError);
  });
});
