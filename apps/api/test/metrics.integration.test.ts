import { createAdminToken, sql } from '@settle/db';
import { journeyEvents } from '@settle/stripe-simulator';
import { describe, expect, it } from 'vitest';
import { checkoutAs, seedOrder, send, startApi, startApiWithSimulator, trpcClient, waitForInbox } from './harness.js';

describe('Prometheus /metrics', () => {
  it('counts webhooks, latency, transitions, grants and inbox health', async () => {
    const api = await startApi('pglite');
    try {
      const order = await seedOrder(api.db);
      const events = journeyEvents('card_success', { orderId: order.id, checkoutSessionId: order.checkout_session_id!, amount: 995, currency: 'usd', startAt: Math.floor(Date.now() / 1000) });
      for (const ev of [...events, events[0]!]) await send(api, ev);
      await fetch(`${api.url}/webhooks/stripe`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      await waitForInbox(api.db);
      const res = await fetch(`${api.url}/metrics`);
      expect(res.headers.get('content-type')).toMatch(/text\/plain/);
      const text = await res.text();
      const value = (line: RegExp) => Number(text.split('\n').find((l) => line.test(l))?.split(' ').at(-1));
      expect(value(/^settle_webhook_requests_total\{outcome="stored"\}/)).toBe(events.length);
      expect(value(/^settle_webhook_requests_total\{outcome="duplicate"\}/)).toBe(1);
      expect(value(/^settle_webhook_requests_total\{outcome="bad_signature"\}/)).toBe(1);
      expect(value(/^settle_order_transitions_total\{from="pending",to="succeeded",cause="stripe_event",handler="new"\}/)).toBe(1);
      expect(value(/^settle_grants_total\{action="grant",handler="new"\}/)).toBe(1);
      expect(value(/^settle_event_processing_latency_seconds_count\{type="payment_intent.succeeded",handler="new"/)).toBe(1);
      expect(value(/^settle_inbox_due_events /)).toBe(0);
      expect(text).toMatch(/^process_resident_memory_bytes /m);
    } finally {
      await api.close();
    }
  });

  it('observes an event\'s processing latency once: a replay adds no sample and no operator wait (as the console summary)', async () => {
    const api = await startApi('pglite');
    try {
      const operator = trpcClient(api.url, (await createAdminToken(api.db, { name: 'op', role: 'operator', createdBy: 'test' })).token);
      const order = await seedOrder(api.db);
      const events = journeyEvents('card_success', { orderId: order.id, checkoutSessionId: order.checkout_session_id!, amount: 995, currency: 'usd', startAt: Math.floor(Date.now() / 1000) });
      for (const ev of events) await send(api, ev);
      await waitForInbox(api.db);
      const pi = events.find((e) => e.type === 'payment_intent.succeeded')!;
      const scrape = async () => {
        const text = await (await fetch(`${api.url}/metrics`)).text();
        // Summed over every label set of the type (the outcome differs between the runs).
        const sum = (re: RegExp) => text.split('\n').filter((l) => re.test(l)).reduce((n, l) => n + Number(l.split(' ').at(-1)), 0);
        return {
          count: sum(/^settle_event_processing_latency_seconds_count\{type="payment_intent.succeeded",handler="new"/),
          seconds: sum(/^settle_event_processing_latency_seconds_sum\{type="payment_intent.succeeded",handler="new"/),
        };
      };
      expect((await scrape()).count).toBe(1);
      // Received two hours ago (it sat in the dead letters, say); an operator replays it now.
      await sql`update stripe_events set received_at = now() - interval '2 hours' where id = ${pi.id}`.execute(api.db);
      await operator.admin.events.replay.mutate({ eventId: pi.id, reason: 'check the replay' });
      await waitForInbox(api.db);
      const after = await scrape();
      expect({ count: after.count, underAMinute: after.seconds < 60 }).toEqual({ count: 1, underAMinute: true });
      expect((await operator.admin.metrics.summary.query()).latencyMs.p99 ?? 0).toBeLessThan(60_000);
    } finally {
      await api.close();
    }
  });

  it('counts a handler choice only for an order that was created', async () => {
    const { api, close } = await startApiWithSimulator('pglite', { HANDLER_MODE: 'new' });
    try {
      await checkoutAs(api, 'user_plan', 'hobby');
      // A second checkout for the same plan is refused: no order, no choice.
      for (let i = 0; i < 2; i++) await expect(checkoutAs(api, 'user_plan', 'hobby')).rejects.toMatchObject({ data: { code: 'CONFLICT' } });
      const orders = await api.db.selectFrom('orders').select('id').execute();
      const text = await (await fetch(`${api.url}/metrics`)).text();
      const choices = text.split('\n').filter((l) => l.startsWith('settle_handler_choices_total{')).reduce((n, l) => n + Number(l.split(' ').at(-1)), 0);
      expect({ orders: orders.length, choices }).toEqual({ orders: 1, choices: 1 });
    } finally {
      await close();
    }
  });
});
