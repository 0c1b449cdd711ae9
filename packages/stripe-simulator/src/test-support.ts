/** Shared by the simulator's tests: a running simulator, an SDK client on it and a signature-checking webhook receiver. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Stripe from 'stripe';
import { afterAll, beforeAll, beforeEach } from 'vitest';
import { startStripeSimulator, type KnownPrice, type StripeSimulator } from './simulator.js';

export const SECRET = 'whsec_simulator_test';

export type Receiver = {
  url: string;
  received: Stripe.Event[];
  /** Thin notifications, parsed and verified with the SDK's `parseEventNotification`. */
  thin: Stripe.V2.Core.EventNotification[];
  rejected: string[];
  /** Answer this many deliveries with 500 before accepting. */
  failNext: number;
  waitFor(n: number, timeoutMs?: number): Promise<Stripe.Event[]>;
  close(): Promise<void>;
};

/** A webhook endpoint that accepts only events whose Stripe-Signature verifies. */
async function startReceiver(stripe: Stripe): Promise<Receiver> {
  const r = { received: [] as Stripe.Event[], thin: [] as Stripe.V2.Core.EventNotification[], rejected: [] as string[], failNext: 0 };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (r.failNext > 0) {
        r.failNext -= 1;
        res.writeHead(500).end('not yet');
        return;
      }
      try {
        const body = Buffer.concat(chunks);
        const signature = String(req.headers['stripe-signature']);
        if ((JSON.parse(body.toString('utf8')) as { object?: string }).object === 'v2.core.event') {
          r.thin.push(stripe.parseEventNotification(body, signature, SECRET) as Stripe.V2.Core.EventNotification);
        } else {
          r.received.push(stripe.webhooks.constructEvent(body, signature, SECRET));
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end('{"received":true}');
      } catch (err) {
        r.rejected.push(err instanceof Error ? err.message : String(err));
        res.writeHead(400).end('bad signature');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks/stripe`;
  return Object.assign(r, {
    url,
    async waitFor(n: number, timeoutMs = 2_000) {
      const until = Date.now() + timeoutMs;
      while (r.received.length < n) {
        if (Date.now() > until) throw new Error(`expected ${n} webhooks, got ${r.received.length}`);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      return r.received;
    },
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  });
}

export type SimulatorHarness = {
  sim: StripeSimulator;
  stripe: Stripe;
  receiver: Receiver;
  /** A payment-mode session as Settle's checkout.service creates it. */
  createCheckout(orderId?: string, opts?: { invoice?: boolean; quantity?: number }): Promise<Stripe.Checkout.Session>;
  /** A subscription-mode session for a monthly plan. */
  subscriptionCheckout(orderId?: string): Promise<Stripe.Checkout.Session>;
};

/** Start a simulator and a receiver for the test file (hooks registered here), fresh receiver state per test. */
export function useSimulator(prices: Record<string, KnownPrice> = {}): SimulatorHarness {
  const h = { createCheckout, subscriptionCheckout } as unknown as SimulatorHarness;
  beforeAll(async () => {
    h.sim = await startStripeSimulator({
      prices: { price_credits10: { unit_amount: 995, currency: 'usd', name: '10 credits' }, ...prices },
      retryDelayMs: 5,
      maxDeliveryAttempts: 5,
    });
    h.stripe = new Stripe('sk_test_sim', { host: '127.0.0.1', port: h.sim.port, protocol: 'http', maxNetworkRetries: 0 });
    h.receiver = await startReceiver(h.stripe);
    h.sim.configureWebhook({ url: h.receiver.url, secret: SECRET });
  });

  afterAll(async () => {
    await h.sim?.close();
    await h.receiver?.close();
  });

  beforeEach(() => {
    h.receiver.received.length = 0;
    h.receiver.thin.length = 0;
    h.receiver.rejected.length = 0;
    h.receiver.failNext = 0;
  });

  async function createCheckout(orderId: string = crypto.randomUUID(), opts: { invoice?: boolean; quantity?: number } = {}) {
    const customer = await h.stripe.customers.create({ metadata: { userId: 'user-1' } });
    return h.stripe.checkout.sessions.create(
      {
        mode: 'payment',
        customer: customer.id,
        client_reference_id: 'user-1',
        line_items: [{ price_data: { currency: 'usd', unit_amount: 995, product_data: { name: '10 credits' } }, quantity: opts.quantity ?? 2 }],
        metadata: { orderId, userId: 'user-1', productId: 'credits10' },
        payment_intent_data: { metadata: { orderId, userId: 'user-1' } },
        ...(opts.invoice === false ? {} : { invoice_creation: { enabled: true, invoice_data: { metadata: { orderId } } } }),
        success_url: `http://localhost:3000/checkout/success?orderId=${orderId}&session={CHECKOUT_SESSION_ID}`,
        cancel_url: `http://localhost:3000/checkout/cancel?orderId=${orderId}`,
      },
      { idempotencyKey: `settle-checkout-${orderId}` },
    );
  }

  async function subscriptionCheckout(orderId: string = crypto.randomUUID()) {
    const customer = await h.stripe.customers.create({ metadata: { userId: 'user-1' } });
    return h.stripe.checkout.sessions.create({
      mode: 'subscription',
      customer: customer.id,
      line_items: [{ price_data: { currency: 'usd', unit_amount: 1999, product_data: { name: 'Pro plan' }, recurring: { interval: 'month' } }, quantity: 1 }],
      metadata: { orderId },
      subscription_data: { metadata: { orderId, userId: 'user-1' } },
      success_url: 'http://localhost:3000/checkout/success',
    });
  }

  return h;
}

/** The CLI's I/O, captured, pointed at a running simulator. */
export function captureCli(simulatorUrl: string) {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { env: { SIMULATOR_URL: simulatorUrl }, out: (l: string) => out.push(l), err: (l: string) => err.push(l) } };
}
