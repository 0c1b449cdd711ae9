import { Writable } from 'node:stream';
import { createAdminToken } from '@settle/db';
import { startStripeSimulator } from '@settle/stripe-simulator';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { JWT_SECRET, startApi, trpcClient, userToken, waitForInbox, WEBHOOK_SECRET } from './harness.js';

describe('structured logs', () => {
  it('carry event id, order id, handler and outcome, and never a secret, token or e-mail address', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(chunk.toString());
        done();
      },
    });
    const simulator = await startStripeSimulator({ retryDelayMs: 20 });
    const api = await startApi('pglite', { STRIPE_SECRET_KEY: 'sk_test_must_not_leak', STRIPE_API_BASE: simulator.url }, { logger: pino({ level: 'debug' }, sink) });
    simulator.configureWebhook({ url: `${api.url}/webhooks/stripe`, secret: WEBHOOK_SECRET });
    try {
      const token = await userToken('log_user');
      const { orderId, checkoutSessionId } = await trpcClient(api.url, token).checkout.create.mutate({ productId: 'credits10' });
      await simulator.runJourney('card_success', checkoutSessionId, { duplicates: 0.5 });
      await waitForInbox(api.db);
      const admin = (await createAdminToken(api.db, { name: 'log-ops', role: 'operator', createdBy: 'test' })).token;
      await trpcClient(api.url, admin).admin.orders.list.query({});
      await fetch(`${api.url}/webhooks/stripe`, { method: 'POST', headers: { 'stripe-signature': 't=1,v1=bad', 'content-type': 'application/json' }, body: '{}' });

      const all = lines.join('');
      const processed = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === 'event processed' && l.orderId === orderId);
      expect(processed.length).toBeGreaterThan(0);
      expect(processed[0]).toMatchObject({ eventId: expect.stringMatching(/^evt_/), handler: 'new', outcome: expect.any(String), type: expect.any(String) });
      for (const secret of [WEBHOOK_SECRET, 'sk_test_must_not_leak', JWT_SECRET, token, admin, 'buyer@example.com', '@example.com']) {
        expect(all).not.toContain(secret);
      }
    } finally {
      await simulator.close();
      await api.close();
    }
  });
});
