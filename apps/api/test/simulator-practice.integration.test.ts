import { createAdminToken } from '@settle/db';
import { TEST_BACKENDS } from '@settle/db/testing';
import { startStripeSimulator, type StripeSimulator } from '@settle/stripe-simulator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { failSimulatorMarkedEvents } from '../src/dev-options.js';
import { startApi, trpcClient, userToken, waitForInbox, WEBHOOK_SECRET, type TestApi } from './harness.js';

// What `pnpm dev` wires: the simulator's "fail processing" marks as Settle's beforeApply hook.
describe.each(TEST_BACKENDS)('practising Replay with the simulator on %s', (kind) => {
  let api: TestApi;
  let simulator: StripeSimulator;
  beforeAll(async () => {
    simulator = await startStripeSimulator({ retryDelayMs: 20 });
    api = await startApi(
      kind,
      { STRIPE_SECRET_KEY: 'sk_test_settle', STRIPE_API_BASE: simulator.url, RETRY_MAX_ATTEMPTS: '2', RETRY_BASE_MS: '10', RETRY_MAX_MS: '20' },
      { beforeApply: failSimulatorMarkedEvents(simulator) },
    );
    simulator.configureWebhook({ url: `${api.url}/webhooks/stripe`, secret: WEBHOOK_SECRET });
  });
  afterAll(async () => {
    await simulator?.close();
    await api?.close();
  });

  it('a --fail event ends dead with the simulator\'s message, and a replay after fix settles the order', async () => {
    const client = trpcClient(api.url, await userToken(`user_practice_${kind}`));
    const { orderId, checkoutSessionId } = await client.checkout.create.mutate({ productId: 'credits10', quantity: 1 });
    // Types Settle processes (one it never acts on, like charge.succeeded, is settled on arrival).
    const failing = ['payment_intent.created', 'payment_intent.succeeded', 'checkout.session.completed'];
    const run = await simulator.runJourney('card_success', checkoutSessionId, { fail: failing });
    await waitForInbox(api.db);
    const marked = run.events.filter((e) => failing.includes(e.type));
    const rows = await api.db.selectFrom('stripe_events').selectAll().where('id', 'in', marked.map((e) => e.id)).execute();
    expect(rows.map((r) => r.state)).toEqual(['dead', 'dead', 'dead']);
    expect(rows.every((r) => /marks .* to fail processing; run `pnpm simulate fix/.test(r.last_error ?? ''))).toBe(true);
    expect((await client.orders.get.query({ orderId })).status).not.toBe('succeeded');

    expect(simulator.fix().sort()).toEqual(marked.map((e) => e.id).sort());
    const operator = trpcClient(api.url, (await createAdminToken(api.db, { name: 'ops', role: 'operator', createdBy: 'test' })).token);
    for (const e of marked) await operator.admin.events.replay.mutate({ eventId: e.id, reason: 'practised a replay' });
    await waitForInbox(api.db);
    expect((await client.orders.get.query({ orderId })).status).toBe('succeeded');
  });
});
