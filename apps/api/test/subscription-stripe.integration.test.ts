import { createAdminToken } from '@settle/db';
import { TEST_BACKENDS } from '@settle/db/testing';
import { SUBSCRIPTION_PERIOD_S, type StripeSimulator } from '@settle/stripe-simulator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { send, startApiWithSimulator, trpcClient, userToken, waitForInbox, type TestApi } from './harness.js';

/** Subscriptions where Settle has to ask Stripe (the offline simulator, through the SDK): the reconciler. */
describe.each(TEST_BACKENDS)('subscriptions and the Stripe API on %s', (kind) => {
  let api: TestApi;
  let simulator: StripeSimulator;
  let close: () => Promise<void>;
  let admin: ReturnType<typeof trpcClient>;
  beforeAll(async () => {
    ({ api, simulator, close } = await startApiWithSimulator(kind));
    admin = trpcClient(api.url, (await createAdminToken(api.db, { name: `sub-stripe-${kind}`, role: 'viewer', createdBy: 'test' })).token);
  });
  afterAll(async () => {
    await close?.();
  });

  it('the reconciler asks Stripe about a stale subscription and its latest invoice, and applies what it finds', async () => {
    const userId = `user_stale_${kind}`;
    const client = trpcClient(api.url, await userToken(userId));
    const { checkoutSessionId } = await client.checkout.create.mutate({ productId: 'hobby' });
    const startAt = Math.floor(Date.now() / 1000) - 3 * SUBSCRIPTION_PERIOD_S;
    const run = await simulator.runJourney('subscription_past_due', checkoutSessionId, { deliver: false, startAt });
    // Settle hears of the start only: the renewal, its failure and the past-due status never reach it.
    for (const e of run.events.filter((x) => x.created <= startAt + 1)) expect((await send(api, e)).status).toBe(200);
    await waitForInbox(api.db);
    expect(await client.entitlements.get.query()).toMatchObject({ plan: 'hobby', subscriptionStatus: 'active' });
    const subscriptionId = simulator.state.checkoutSessions.get(checkoutSessionId)!.subscription as string;

    const r = await api.settle.deps.reconciler.runOnce('test');
    expect(r.errors).toBe(0);
    expect(r.disagreements).toBeGreaterThanOrEqual(1);
    expect(await client.entitlements.get.query()).toMatchObject({ plan: 'hobby', subscriptionStatus: 'past_due' });
    const detail = await admin.admin.subscriptions.get.query({ subscriptionId });
    expect(detail.history).toContainEqual(expect.objectContaining({ kind: 'status', fromStatus: 'active', toStatus: 'past_due', cause: 'reconciler', actor: 'reconciler' }));
    expect(detail.invoices.map((i) => [i.billingReason, i.status, i.attemptCount])).toEqual([['subscription_create', 'paid', 1], ['subscription_cycle', 'open', 1]]);
    expect(detail.subscription.dunning).toMatchObject({ attempts: 1 });

    // Asked again within the stale window: not asked again (the claim is stamped).
    const again = await api.settle.deps.reconciler.runOnce('test');
    expect(again.disagreements).toBe(0);
  });
});
