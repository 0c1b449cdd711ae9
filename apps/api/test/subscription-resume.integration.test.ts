import { TEST_BACKENDS } from '@settle/db/testing';
import { SUBSCRIPTION_PERIOD_S, type StripeSimulator } from '@settle/stripe-simulator';
import { TRPCClientError } from '@trpc/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminClient, snapshot, startApiWithSimulator, trpcClient, userToken, waitForInbox, type TestApi } from './harness.js';

const DAY = 86_400;

/** The tRPC code and message of a call's failure, or OK. */
const outcome = (p: Promise<unknown>) =>
  p.then(
    () => ({ code: 'OK', message: '' }),
    (err: unknown) => (err instanceof TRPCClientError ? { code: (err.data as { code?: string } | undefined)?.code ?? 'NONE', message: err.message } : { code: 'NONE', message: String(err) }),
  );

/**
 * A plan that stopped being paid for comes back through billing.resume: real HTTP, the offline
 * Stripe simulator reached through the SDK, its signed webhooks, and the hosted invoice page the
 * customer pays on.
 */
describe.each(TEST_BACKENDS)('billing.resume on %s', (kind) => {
  let api: TestApi;
  let simulator: StripeSimulator;
  let close: () => Promise<void>;
  beforeAll(async () => {
    ({ api, simulator, close } = await startApiWithSimulator(kind, { UNMATCHED_MAX_ATTEMPTS: '40' }));
  });
  afterAll(async () => {
    await close?.();
  });

  /** A hobby plan bought about forty days ago that went through `journey`, every webhook processed. */
  async function planAfter(userId: string, journey: 'subscription_dunning_unpaid' | 'subscription_trial_paused' | 'subscription_renew' | 'subscription_cancel') {
    const client = trpcClient(api.url, await userToken(userId));
    const { orderId, checkoutSessionId } = await client.checkout.create.mutate({ productId: 'hobby' });
    const run = await simulator.runJourney(journey, checkoutSessionId, { startAt: Math.floor(Date.now() / 1000) - SUBSCRIPTION_PERIOD_S - 10 * DAY });
    expect(run.deliveries.every((d) => d.ok)).toBe(true);
    await waitForInbox(api.db);
    const subscriptionId = simulator.state.checkoutSessions.get(checkoutSessionId)!.subscription as string;
    return { client, orderId, subscriptionId };
  }

  /** The customer pays on the hosted invoice page, as in a browser. */
  async function payOnHostedPage(url: string) {
    const res = await fetch(url, { method: 'POST' });
    expect(res.status).toBe(200);
  }

  /** Every event Stripe sent about this subscription's invoices and status has been processed, none dead or parked. */
  async function nothingLeftOver() {
    await waitForInbox(api.db);
    const stuck = await api.db.selectFrom('stripe_events').select(['type', 'state', 'last_error']).where('state', 'not in', ['processed', 'ignored']).execute();
    expect(stuck).toEqual([]);
  }

  it('unpaid: checkout.create points to billing.resume; its hosted invoice, once paid, gives the plan back through the webhooks', async () => {
    const { client, orderId, subscriptionId } = await planAfter(`resume_unpaid_${kind}`, 'subscription_dunning_unpaid');
    expect(await client.entitlements.get.query()).toMatchObject({ plan: null, subscriptionStatus: 'unpaid' });
    const refused = await outcome(client.checkout.create.mutate({ productId: 'hobby' }));
    expect(refused.code).toBe('CONFLICT');
    expect(refused.message).toContain('billing.resume');

    const before = await snapshot(api.db);
    const renewal = [...simulator.state.invoices.values()].find((i) => i.billing_reason === 'subscription_cycle' && (i.parent as { subscription_details: { subscription: string } }).subscription_details.subscription === subscriptionId)!;
    const answer = await client.billing.resume.mutate({ plan: 'hobby' });
    expect(answer).toEqual({ subscriptionId, status: 'unpaid', url: `${simulator.url}/i/${renewal.id}`, invoice: { id: renewal.id, amountDue: 999, currency: 'usd' } });
    // Asking changes nothing: the money decides.
    expect(await snapshot(api.db)).toEqual(before);

    await payOnHostedPage(answer.url!);
    await expect.poll(() => client.entitlements.get.query(), { timeout: 15_000 }).toMatchObject({ plan: 'hobby', subscriptionStatus: 'active' });
    await nothingLeftOver();
    const detail = await (await adminClient(api, `resume-unpaid-${kind}`, 'viewer')).admin.subscriptions.get.query({ subscriptionId });
    expect(detail.invoices.map((i) => [i.billingReason, i.status, i.amountPaid])).toEqual([['subscription_create', 'paid', 999], ['subscription_cycle', 'paid', 999]]);
    expect(detail.history).toContainEqual(expect.objectContaining({ kind: 'status', fromStatus: 'unpaid', toStatus: 'active' }));
    expect(await client.orders.get.query({ orderId })).toMatchObject({ status: 'succeeded', reviewReason: null });
    // Paid up: there is nothing left to resume.
    expect(await outcome(client.billing.resume.mutate({ plan: 'hobby' }))).toMatchObject({ code: 'PRECONDITION_FAILED', message: expect.stringContaining('active') });
  });

  it('paused (a trial ended without a card): resumed at Stripe once however often asked; paying the resumption invoice gives the plan back', async () => {
    const { client, subscriptionId } = await planAfter(`resume_paused_${kind}`, 'subscription_trial_paused');
    expect(await client.entitlements.get.query()).toMatchObject({ plan: null, subscriptionStatus: 'paused' });
    expect((await outcome(client.checkout.create.mutate({ productId: 'hobby' }))).message).toContain('billing.resume');

    const invoicesOf = () => [...simulator.state.invoices.values()].filter((i) => (i.parent as { subscription_details: { subscription: string } }).subscription_details.subscription === subscriptionId);
    expect(invoicesOf()).toHaveLength(1);
    // A double click: two calls at once, and one more after.
    const [first, second] = await Promise.all([client.billing.resume.mutate({ plan: 'hobby' }), client.billing.resume.mutate({ plan: 'hobby' })]);
    const third = await client.billing.resume.mutate({ plan: 'hobby' });
    expect(first).toMatchObject({ subscriptionId, status: 'paused', url: expect.stringContaining(`${simulator.url}/i/`), invoice: { amountDue: 999, currency: 'usd' } });
    expect([second, third]).toEqual([first, first]);
    expect(invoicesOf()).toHaveLength(2);
    expect(simulator.state.subscriptions.get(subscriptionId)!.status).toBe('paused');

    // A customer pays seconds after the resumption at the earliest. Stripe's clock is whole
    // seconds, and at one second Settle's tie-break ranks \`paused\` after \`active\` (the
    // subscription's \`updated\` of the resumption, still paused, would win over the payment's).
    await new Promise((r) => setTimeout(r, 1_100));
    await payOnHostedPage(first.url!);
    await expect.poll(() => client.entitlements.get.query(), { timeout: 15_000 }).toMatchObject({ plan: 'hobby', subscriptionStatus: 'active' });
    const { planPeriodEnd } = await client.entitlements.get.query();
    // A new period from the resumption on.
    expect(new Date(planPeriodEnd!).getTime() / 1000).toBeGreaterThan(Date.now() / 1000 + SUBSCRIPTION_PERIOD_S - DAY);
    await nothingLeftOver();
  });

  it('paused, and the customer\'s credit balance pays the resumption at once: no page to send them to, the plan comes back', async () => {
    const { client, subscriptionId } = await planAfter(`resume_credit_${kind}`, 'subscription_trial_paused');
    const customer = simulator.state.subscriptions.get(subscriptionId)!.customer as string;
    simulator.state.customers.get(customer)!.balance = -2000;
    expect(await client.billing.resume.mutate({ plan: 'hobby' })).toEqual({ subscriptionId, status: 'active', url: null, invoice: null });
    await expect.poll(() => client.entitlements.get.query(), { timeout: 15_000 }).toMatchObject({ plan: 'hobby', subscriptionStatus: 'active' });
    await nothingLeftOver();
  });

  it('active or canceled: a clear PRECONDITION_FAILED saying which, and nothing changes here or at Stripe', async () => {
    const active = await planAfter(`resume_active_${kind}`, 'subscription_renew');
    const canceled = await planAfter(`resume_canceled_${kind}`, 'subscription_cancel');
    const before = await snapshot(api.db);
    const stripeEvents = simulator.events().length;
    const a = await outcome(active.client.billing.resume.mutate({ plan: 'hobby' }));
    expect(a).toEqual({ code: 'PRECONDITION_FAILED', message: expect.stringMatching(/hobby subscription \(sub_\w+\) is active: .*nothing is owed/) });
    const c = await outcome(canceled.client.billing.resume.mutate({ plan: 'hobby' }));
    expect(c).toEqual({ code: 'PRECONDITION_FAILED', message: expect.stringMatching(/is canceled: .*checkout\.create/) });
    expect(await snapshot(api.db)).toEqual(before);
    expect(simulator.events().length).toBe(stripeEvents);
    expect(await active.client.entitlements.get.query()).toMatchObject({ plan: 'hobby', subscriptionStatus: 'active' });
  });

  it('no subscription to that plan: NOT_FOUND; a read token: FORBIDDEN; a plan name that is not one: BAD_REQUEST', async () => {
    const nobody = trpcClient(api.url, await userToken(`resume_nobody_${kind}`));
    expect(await outcome(nobody.billing.resume.mutate({ plan: 'hobby' }))).toEqual({ code: 'NOT_FOUND', message: 'you have no hobby subscription' });
    const { subscriptionId } = await planAfter(`resume_reader_${kind}`, 'subscription_trial_paused');
    // Another plan than the one they have.
    const host = trpcClient(api.url, await userToken(`resume_reader_${kind}`));
    expect((await outcome(host.billing.resume.mutate({ plan: 'pro' }))).code).toBe('NOT_FOUND');
    const reader = trpcClient(api.url, await userToken(`resume_reader_${kind}`, { settle_scope: 'read' }));
    const before = await snapshot(api.db);
    const forbidden = await outcome(reader.billing.resume.mutate({ plan: 'hobby' }));
    expect(forbidden.code).toBe('FORBIDDEN');
    expect(forbidden.message).toMatch(/full user token/);
    expect(simulator.state.subscriptions.get(subscriptionId)!.latest_invoice).toBe([...simulator.state.invoices.values()].find((i) => i.billing_reason === 'subscription_create' && (i.parent as { subscription_details: { subscription: string } }).subscription_details.subscription === subscriptionId)!.id);
    expect(await snapshot(api.db)).toEqual(before);
    expect((await outcome(host.billing.resume.mutate({ plan: '' }))).code).toBe('BAD_REQUEST');
  });

  // Last: it stops the simulator.
  it('Stripe unreachable: SERVICE_UNAVAILABLE, as billing.portal answers, and nothing changes', async () => {
    const { client } = await planAfter(`resume_down_${kind}`, 'subscription_dunning_unpaid');
    const before = await snapshot(api.db);
    await simulator.close();
    expect(await outcome(client.billing.resume.mutate({ plan: 'hobby' }))).toEqual({ code: 'SERVICE_UNAVAILABLE', message: 'payment provider unavailable; try again' });
    expect(await snapshot(api.db)).toEqual(before);
    expect(await client.entitlements.get.query()).toMatchObject({ plan: null, subscriptionStatus: 'unpaid' });
  }, 60_000);
});
