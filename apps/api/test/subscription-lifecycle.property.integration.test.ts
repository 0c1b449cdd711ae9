import { listSubscriptionPayments } from '@settle/db';
import { TEST_BACKENDS } from '@settle/db/testing';
import { buildLifecycle, type Lifecycle } from '@settle/payments-core/testing';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedOrder, send, startApi, trpcClient, userToken, waitForInbox, type TestApi } from './harness.js';

const AMOUNTS: Record<string, number> = { hobby: 999, pro: 1999 };
const T0 = Math.floor(Date.now() / 1000) - 120 * 86_400;
/** Whole lifecycles through the real path are slow-ish: a few runs each keep CI time modest. */
const RUNS = 3;

const LIFECYCLES: Lifecycle[] = ['upgrade', 'dunning_unpaid', 'dispute_lost', 'refund_renewal_failed', 'trial_active', 'cancel'];

/**
 * Any delivery order, any duplication, delivered concurrently: the same subscription, plan and
 * payments as Stripe's own order. Through signed webhooks, the inbox and the order use case.
 */
describe.each(TEST_BACKENDS)('whole subscription lifecycles, any order, duplicates, concurrent delivery, on %s', (kind) => {
  let api: TestApi;
  let n = 0;
  beforeAll(async () => {
    // Early events (a dispute before its invoice) wait for what they need: enough retries for a whole shuffled delivery.
    api = await startApi(kind, { UNMATCHED_MAX_ATTEMPTS: '40' });
  });
  afterAll(async () => {
    await api?.close();
  });

  it.each(LIFECYCLES)('%s', async (name) => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.nat(), { minLength: 80, maxLength: 80 }), fc.array(fc.nat({ max: 60 }), { maxLength: 12 }), async (keys, dupes) => {
        const suffix = `p_${name}_${kind}_${++n}`;
        const userId = `user_${suffix}`;
        const startPlan = buildLifecycle(name, { orderId: 'x', userId, suffix, t0: T0 }).expected.startPlan;
        const order = await seedOrder(api.db, { userId, productId: startPlan, mode: 'subscription', amount: AMOUNTS[startPlan] });
        const built = buildLifecycle(name, { orderId: order.id, userId, suffix, t0: T0, checkoutSessionId: order.checkout_session_id! });
        const events = [...built.events, ...dupes.filter((i) => i < built.events.length).map((i) => built.events[i]!)];
        const shuffled = events.map((e, i) => ({ e, k: keys[i % keys.length]! + i / 1000 })).sort((a, b) => a.k - b.k).map((x) => x.e);
        // Four at a time: concurrent requests, processed by the API's workers as they come.
        for (let i = 0; i < shuffled.length; i += 4) {
          const statuses = await Promise.all(shuffled.slice(i, i + 4).map((e) => send(api, e).then((r) => r.status)));
          expect(statuses.every((s) => s === 200)).toBe(true);
        }
        await waitForInbox(api.db, 30_000);

        const client = trpcClient(api.url, await userToken(userId));
        expect(await client.entitlements.get.query()).toMatchObject({ plan: built.expected.plan, subscriptionStatus: built.expected.subscriptionStatus });
        const sub = await api.db.selectFrom('subscriptions').selectAll().where('id', '=', built.subscriptionId).executeTakeFirstOrThrow();
        expect(sub).toMatchObject({ status: built.expected.subscriptionStatus, plan: built.expected.subscriptionPlan });
        const payments = await listSubscriptionPayments(api.db, [built.subscriptionId]);
        expect(payments).toHaveLength(built.expected.invoices);
        expect(payments.filter((p) => p.status === 'paid')).toHaveLength(built.expected.paidInvoices);
        // Exactly once: one plan grant, and no event left unsettled or dead.
        const grants = await api.db.selectFrom('grants').select('kind').where('order_id', '=', order.id).execute();
        expect(grants).toEqual([{ kind: 'plan' }]);
        const settled = await api.db.selectFrom('stripe_events').select(['type', 'state']).where('id', 'in', built.events.map((e) => e.id)).execute();
        // Every event settled: processed, or ignored when it is a plan PaymentIntent's own event (it
        // carries no Settle metadata; the paid invoice confirms and invoice_payment.paid links it).
        expect(settled.filter((e) => e.state !== 'processed' && !(e.state === 'ignored' && e.type.startsWith('payment_intent.')))).toEqual([]);
      }),
      { numRuns: RUNS },
    );
  }, 120_000);
});
