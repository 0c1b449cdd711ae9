import { TEST_BACKENDS } from '@settle/db/testing';
import { getEvent } from '@settle/db';
import { journeyEvents, signPayload } from '@settle/stripe-simulator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedOrder, startApi, waitForInbox, WEBHOOK_SECRET, type TestApi } from '../harness.js';

/** A signed delivery of an exact body (the poison is in the JSON text itself). */
async function post(api: TestApi, body: string, timestamp?: number) {
  const res = await fetch(`${api.url}/webhooks/stripe`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'stripe-signature': signPayload(body, WEBHOOK_SECRET, timestamp) },
    body,
  });
  await res.arrayBuffer();
  return res.status;
}

describe.each(TEST_BACKENDS)('poison payloads among normal deliveries on %s', (kind) => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startApi(kind);
  });
  afterAll(async () => {
    await api?.close();
  });

  it('validly signed events PostgreSQL cannot store as sent are repaired or refused with 400, never 5xx, and never fail the others', async () => {
    const now = Math.floor(Date.now() / 1000);
    const orders = await Promise.all(Array.from({ length: 10 }, () => seedOrder(api.db)));
    const normal = orders.flatMap((o) =>
      journeyEvents('card_success', { orderId: o.id, checkoutSessionId: o.checkout_session_id!, amount: 995, currency: 'usd', startAt: now }),
    );
    const base = (id: string, object: string) => `{"id":"${id}","object":"event","type":"customer.updated","created":${now},"api_version":"2025-03-31.basil","livemode":false,"data":{"object":${object}}}`;
    const poison = [
      { name: 'NUL escape', body: base('evt_poison_nul', '{"id":"cus_1","name":"Ann\\u0000Lee"}'), expect: 200 },
      { name: 'lone surrogate', body: base('evt_poison_surrogate', '{"id":"cus_2","name":"\\ud83d broken"}'), expect: 200 },
      { name: '20k nesting', body: base('evt_poison_deep', `{"id":"cus_3","metadata":{"x":${'['.repeat(20_000)}${']'.repeat(20_000)}}}`), expect: 400 },
      { name: 'created out of range', body: base('evt_poison_created', '{"id":"cus_4"}').replace(`"created":${now}`, '"created":99999999999999'), expect: 400 },
    ];
    // Poison and normal deliveries interleaved, 30 at a time, so they share group commits.
    const jobs = [...normal.map((e) => ({ name: 'normal', body: JSON.stringify(e), expect: 200 })), ...poison, ...poison];
    jobs.sort((a, b) => (a.name === b.name ? 0 : a.name < b.name ? -1 : 1));
    const interleaved = jobs.map((j, i) => ({ j, k: (i * 7919) % jobs.length })).sort((a, b) => a.k - b.k).map((x) => x.j);
    const results: { name: string; status: number; expect: number }[] = [];
    for (let i = 0; i < interleaved.length; i += 30) {
      const wave = interleaved.slice(i, i + 30);
      results.push(...(await Promise.all(wave.map(async (j) => ({ name: j.name, status: await post(api, j.body), expect: j.expect })))));
    }
    expect(results.filter((r) => r.status >= 500)).toEqual([]);
    expect(results.filter((r) => r.name === 'normal' && r.status !== 200)).toEqual([]);
    for (const p of poison) expect(results.filter((r) => r.name === p.name).map((r) => r.status), p.name).toEqual([p.expect, p.expect]);

    const nul = await getEvent(api.db, 'evt_poison_nul');
    expect((nul!.payload as { data: { object: { name: string } } }).data.object.name).toBe('Ann\uFFFDLee');
    expect(await getEvent(api.db, 'evt_poison_surrogate')).toBeDefined();
    expect(await getEvent(api.db, 'evt_poison_deep')).toBeUndefined();
    expect(await getEvent(api.db, 'evt_poison_created')).toBeUndefined();
    await waitForInbox(api.db);
    const paid = await api.db.selectFrom('orders').select('status').where('id', 'in', orders.map((o) => o.id)).execute();
    expect(paid.every((o) => o.status === 'succeeded')).toBe(true);
  });

  it('refuses a signature timestamp further in the future than the tolerance', async () => {
    const body = `{"id":"evt_future","object":"event","type":"customer.updated","created":${Math.floor(Date.now() / 1000)},"data":{"object":{"id":"cus_9"}}}`;
    expect(await post(api, body, Math.floor(Date.now() / 1000) + 3_600)).toBe(400);
    expect(await getEvent(api.db, 'evt_future')).toBeUndefined();
    expect(await post(api, body)).toBe(200);
  });
});
