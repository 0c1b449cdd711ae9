import { createAdminToken } from '@settle/db';
import { TEST_BACKENDS } from '@settle/db/testing';
import type { StripeSimulator } from '@settle/stripe-simulator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { orderState, send, startApiWithSimulator, trpcClient, userToken, waitForInbox, type TestApi } from './harness.js';

/**
 * A webhook, the reconciler and an admin override are three doors to one use case
 * (`applyOrderCommand`): the same payment, however it reaches Settle, leaves the same order,
 * audit trail and grants; only who acted differs.
 */
describe.each(TEST_BACKENDS)('one order use case behind every door on %s', (kind) => {
  let api: TestApi;
  let simulator: StripeSimulator;
  let close: () => Promise<void>;
  let admin: ReturnType<typeof trpcClient>;
  beforeAll(async () => {
    ({ api, simulator, close } = await startApiWithSimulator(kind));
    admin = trpcClient(api.url, (await createAdminToken(api.db, { name: `ops-${kind}`, role: 'operator', createdBy: 'test' })).token);
  });
  afterAll(async () => {
    await close?.();
  });

  async function paidAtStripe(userId: string, deliver: boolean) {
    const client = trpcClient(api.url, await userToken(userId));
    const { orderId, checkoutSessionId } = await client.checkout.create.mutate({ productId: 'credits10', quantity: 2 });
    await simulator.runJourney('card_success', checkoutSessionId, { deliver });
    await waitForInbox(api.db);
    return orderId;
  }

  /** What the use case decides and carries out, without who acted or when. */
  async function outcome(orderId: string) {
    const { order, grants, transitions } = await orderState(api.db, orderId);
    const credits = await api.db.selectFrom('credit_ledger').select(['delta', 'reason']).where('order_id', '=', orderId).orderBy('id').execute();
    return {
      status: order.status,
      amount: Number(order.amount),
      grants: grants.map((g) => ({ kind: g.kind, credits: g.credits, plan: g.plan, revoked: g.credits_revoked, revokedAt: g.revoked_at !== null })),
      credits: credits.map((c) => ({ delta: Number(c.delta), reason: c.reason })),
      audit: transitions.map((t) => ({ from: t.from_status, to: t.to_status })),
      // Who made each change after the order's creation.
      causes: transitions.slice(1).map((t) => t.cause),
    };
  }

  it('a payment confirmed by its webhook, by the reconciler and by an admin ends alike', async () => {
    const byWebhook = await paidAtStripe(`user_webhook_${kind}`, true);

    const byReconciler = await paidAtStripe(`user_reconciler_${kind}`, false);
    expect((await orderState(api.db, byReconciler)).order.status).toBe('pending');
    const reconciled = await admin.admin.orders.reconcile.mutate({ orderId: byReconciler, reason: 'ticket: checked with Stripe' });
    expect(reconciled.changed).toBe(true);

    const byAdmin = await paidAtStripe(`user_admin_${kind}`, false);
    await admin.admin.orders.override.mutate({ orderId: byAdmin, to: 'succeeded', reason: 'paid, webhooks lost' });

    const [w, r, a] = [await outcome(byWebhook), await outcome(byReconciler), await outcome(byAdmin)];
    const { causes: webhookCauses, ...expected } = w;
    expect(expected).toEqual({
      status: 'succeeded',
      amount: 1990,
      grants: [{ kind: 'credits', credits: 20, plan: null, revoked: 0, revokedAt: false }],
      credits: [{ delta: 20, reason: 'grant' }],
      audit: [{ from: null, to: 'pending' }, { from: 'pending', to: 'succeeded' }],
    });
    expect(webhookCauses).toEqual(['stripe_event']);
    expect(r).toEqual({ ...expected, causes: ['reconciler'] });
    expect(a).toEqual({ ...expected, causes: ['admin'] });

    // And again through each door changes nothing more: the use case is idempotent everywhere.
    expect((await admin.admin.orders.reconcile.mutate({ orderId: byWebhook, reason: 'ticket: checked with Stripe' })).changed).toBe(false);
    // An override does not know Stripe's ids; reconciling may link them, and changes nothing else.
    await admin.admin.orders.reconcile.mutate({ orderId: byAdmin, reason: 'ticket: checked with Stripe' });
    await expect(admin.admin.orders.override.mutate({ orderId: byReconciler, to: 'succeeded', reason: 'again' })).rejects.toMatchObject({
      data: { code: 'CONFLICT' },
    });
    expect(await outcome(byWebhook)).toEqual(w);
    expect(await outcome(byReconciler)).toEqual(r);
    expect(await outcome(byAdmin)).toEqual(a);
  });

  it('a refund reaches the order the same way by webhook and by reconciliation', async () => {
    const client = trpcClient(api.url, await userToken(`user_refund_${kind}`));
    const viaWebhook = await client.checkout.create.mutate({ productId: 'credits10' });
    await simulator.runJourney('full_refund', viaWebhook.checkoutSessionId);
    await waitForInbox(api.db);
    const viaReconciler = await client.checkout.create.mutate({ productId: 'credits10' });
    await simulator.runJourney('full_refund', viaReconciler.checkoutSessionId, { deliver: false });
    await waitForInbox(api.db);
    await admin.admin.orders.reconcile.mutate({ orderId: viaReconciler.orderId, reason: 'ticket: checked with Stripe' });
    const { causes: _w, ...w } = await outcome(viaWebhook.orderId);
    const { causes: _r, ...r } = await outcome(viaReconciler.orderId);
    expect(w.status).toBe('refunded');
    expect(r).toEqual(w);
  });

  it('a lost chargeback Settle heard nothing of is found by reconciliation, as its events would have', async () => {
    const client = trpcClient(api.url, await userToken(`user_dispute_${kind}`));
    const viaWebhook = await client.checkout.create.mutate({ productId: 'credits10' });
    // One event processed at a time, in Stripe's order: the audit trail to compare with. (Delivered
    // back to back, a dispute may be decided before the payment it disputes, in another worker's
    // batch: the same end by another path in the audit.)
    for (const e of (await simulator.runJourney('dispute_lost', viaWebhook.checkoutSessionId, { deliver: false })).events) {
      await send(api, e);
      await waitForInbox(api.db);
    }
    const viaReconciler = await client.checkout.create.mutate({ productId: 'credits10' });
    const run = await simulator.runJourney('dispute_lost', viaReconciler.checkoutSessionId, { deliver: false });
    for (const e of run.events.filter((e) => !e.type.startsWith('charge.dispute.'))) await send(api, e);
    await waitForInbox(api.db);
    expect((await outcome(viaReconciler.orderId)).status).toBe('succeeded');
    // What the console's "Reconcile now" does: it must not say Stripe agrees.
    const reconciled = await admin.admin.orders.reconcile.mutate({ orderId: viaReconciler.orderId, reason: 'ticket: chargeback notice from the bank' });
    expect(reconciled.changed).toBe(true);
    const { causes: _w, audit: auditW, ...w } = await outcome(viaWebhook.orderId);
    const { causes: _r, audit: auditR, ...r } = await outcome(viaReconciler.orderId);
    expect(w.status).toBe('charged_back');
    expect(r).toEqual(w);
    expect(auditR).toEqual(auditW);
    expect((await admin.admin.orders.reconcile.mutate({ orderId: viaReconciler.orderId, reason: 'again' })).changed).toBe(false);
  });

  it('a dispute Stripe prevented, which Settle heard nothing of, leaves a reconciled order paid, as its events would have', async () => {
    const client = trpcClient(api.url, await userToken(`user_prevented_${kind}`));
    const { orderId, checkoutSessionId } = await client.checkout.create.mutate({ productId: 'credits10' });
    const run = await simulator.runJourney('dispute_prevented', checkoutSessionId, { deliver: false });
    for (const e of run.events.filter((e) => !e.type.startsWith('charge.dispute.'))) await send(api, e);
    await waitForInbox(api.db);
    await admin.admin.orders.reconcile.mutate({ orderId, reason: 'ticket: bank says the dispute was stopped' });
    const o = await outcome(orderId);
    expect({ status: o.status, revoked: o.grants.map((g) => g.revoked) }).toEqual({ status: 'succeeded', revoked: [0] });
    expect(o.audit.map((a) => a.to)).not.toContain('disputed');
    // Recorded as what it was: prevented, not won.
    expect((await orderState(api.db, orderId)).order).toMatchObject({ dispute_status: 'prevented' });
  });

  it('a plan order is reconciled with its subscription: a cancelation Settle never heard of ends the plan', async () => {
    const userId = `user_plan_reconcile_${kind}`;
    const client = trpcClient(api.url, await userToken(userId));
    const { orderId, checkoutSessionId } = await client.checkout.create.mutate({ productId: 'hobby' });
    const run = await simulator.runJourney('subscription_cancel', checkoutSessionId, { deliver: false });
    const started = run.events.findIndex((e) => e.type === 'checkout.session.completed') + 1;
    for (const e of run.events.slice(0, started)) await send(api, e);
    await waitForInbox(api.db);
    expect(await client.entitlements.get.query()).toMatchObject({ plan: 'hobby', subscriptionStatus: 'active' });
    // Stripe canceled the subscription; Settle missed every event since.
    const reconciled = await admin.admin.orders.reconcile.mutate({ orderId, reason: 'ticket: customer says they canceled' });
    expect(reconciled.changed).toBe(true);
    expect(await client.entitlements.get.query()).toMatchObject({ plan: null, subscriptionStatus: 'canceled' });
  });
});
