import { journeyEvents } from '@settle/stripe-simulator';
import { describe, expect, it } from 'vitest';
import { seedOrder, send, startApi, waitForInbox } from './harness.js';

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
      expect(value(/^settle_order_transitions_total\{from="pending",to="succeeded",cause="stripe_event"\}/)).toBe(1);
      expect(value(/^settle_grants_total\{action="grant"\}/)).toBe(1);
      expect(value(/^settle_event_processing_latency_seconds_count\{type="payment_intent.succeeded",handler="new"/)).toBe(1);
      expect(value(/^settle_inbox_due_events /)).toBe(0);
      expect(text).toMatch(/^process_resident_memory_bytes /m);
    } finally {
      await api.close();
    }
  });
});
