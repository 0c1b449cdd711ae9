import { insertEvents } from '@settle/db';
import { createTestDatabase, TEST_BACKENDS, type TestDatabase } from '@settle/db/testing';
import { startStripeSimulator, type StripeEvent, type StripeSimulator } from '@settle/stripe-simulator';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createEventRecovery, type EventRecovery } from '../src/payments/event-recovery.service.js';
import { createLogger } from '../src/lib/logger.js';
import { createMetrics } from '../src/lib/metrics.js';
import { createStripeClient } from '../src/lib/stripe-client.js';
import { adminClient, checkoutAs, orderState, startApiWithSimulator, type TestApi, trpcClient, waitForInbox } from './harness.js';

/**
 * Events Settle never received (an outage longer than Stripe's retries, a misconfigured endpoint)
 * come back from Stripe's Events API: the simulator records a journey's events without delivering
 * them, as Stripe would after giving up.
 */
describe.each(TEST_BACKENDS)('recovering missed events from Stripe on %s', (kind) => {
  let api: TestApi;
  let simulator: StripeSimulator;
  let close: () => Promise<void>;
  let operator: ReturnType<typeof trpcClient>;
  beforeAll(async () => {
    ({ api, simulator, close } = await startApiWithSimulator(kind));
    operator = await adminClient(api, `ops-${kind}`, 'operator');
  });
  afterAll(async () => {
    await close?.();
  });

  const checkout = (userId: string) => checkoutAs(api, userId);

  it('a payment whose events were never delivered is paid once recovery stores them; a second run stores nothing', async () => {
    // A first journey is delivered, so the inbox has a newest event to start the window from.
    const delivered = await checkout(`user_delivered_${kind}`);
    await simulator.runJourney('card_success', delivered.checkoutSessionId);
    await waitForInbox(api.db);

    const { client, orderId, checkoutSessionId } = await checkout(`user_lost_${kind}`);
    const lost = await simulator.runJourney('card_success', checkoutSessionId, { deliver: false });
    await waitForInbox(api.db);
    expect((await client.orders.get.query({ orderId })).status).toBe('pending');

    const first = await operator.admin.events.recover.mutate({ reason: 'endpoint was down for 4 days (INC-12)' });
    expect(first.stored).toBe(lost.events.length);
    expect(first.listed).toBe(first.stored + first.alreadyKnown);
    await waitForInbox(api.db);
    expect((await client.orders.get.query({ orderId })).status).toBe('succeeded');
    const { grants } = await orderState(api.db, orderId);
    expect(grants).toHaveLength(1);
    // As through the webhook route, a type Settle never acts on is stored settled, never attempted.
    const charges = await api.db.selectFrom('stripe_events').select(['state', 'outcome', 'attempts']).where('id', 'in', lost.events.filter((e) => e.type.startsWith('charge.')).map((e) => e.id)).execute();
    expect(charges.length).toBeGreaterThan(0);
    expect(charges.every((c) => c.state === 'processed' && c.outcome === 'unsupported' && c.attempts === 0)).toBe(true);

    const again = await operator.admin.events.recover.mutate({ reason: 'check nothing is left' });
    expect(again).toMatchObject({ stored: 0, alreadyKnown: again.listed });
    expect(again.listed).toBeGreaterThanOrEqual(lost.events.length);

    const progress = await operator.admin.events.recoveryProgress.query();
    expect(progress).toMatchObject({ running: false, phase: 'done', stored: 0, error: null });
    const audit = await api.db.selectFrom('admin_audit').selectAll().where('action', '=', 'events.recover').orderBy('id').execute();
    expect(audit.map((a) => a.reason)).toEqual(['endpoint was down for 4 days (INC-12)', 'check nothing is left']);
    const metrics = await (await fetch(`${api.url}/metrics`)).text();
    expect(Number(metrics.match(/^settle_events_recovered_total\{trigger="admin"\} (\d+)/m)?.[1])).toBe(lost.events.length);
  });

  it('with an event destination sending thin notifications, the snapshot events they named count as known, not as missed', async () => {
    const { client, orderId, checkoutSessionId } = await checkout(`user_thin_only_${kind}`);
    const run = await simulator.runJourney('card_success', checkoutSessionId, { format: 'thin' });
    await waitForInbox(api.db);
    expect((await client.orders.get.query({ orderId })).status).toBe('succeeded');
    const thin = await api.db.selectFrom('stripe_events').select('id').where('type', 'like', 'v1.%').where('object_id', 'in', [checkoutSessionId]).execute();
    expect(thin.length).toBeGreaterThan(0);
    // Stripe's Events API lists the snapshot events; the inbox holds the notifications naming them.
    const since = new Date((Math.min(...run.events.map((e) => e.created)) - 1) * 1000).toISOString();
    const recovered = await operator.admin.events.recover.mutate({ reason: 'thin destination: nothing was missed', since });
    expect(recovered.listed).toBeGreaterThanOrEqual(run.events.length);
    expect(recovered).toMatchObject({ stored: 0, alreadyKnown: recovered.listed });
    const stored = await api.db.selectFrom('stripe_events').select('id').where('id', 'in', run.events.map((e) => e.id)).execute();
    expect(stored).toEqual([]);
  });

  it('`since` reaches back to events older than the newest stored one', async () => {
    const { client, orderId, checkoutSessionId } = await checkout(`user_since_${kind}`);
    const startAt = Math.floor(Date.now() / 1000) - 3 * 86_400;
    await simulator.runJourney('card_success', checkoutSessionId, { deliver: false, startAt });
    const result = await operator.admin.events.recover.mutate({ reason: 'three-day outage', since: new Date((startAt - 60) * 1000).toISOString() });
    expect(result.stored).toBeGreaterThan(0);
    await waitForInbox(api.db);
    expect((await client.orders.get.query({ orderId })).status).toBe('succeeded');
  });

  it('needs the operator role and a reason', async () => {
    const viewer = await adminClient(api, `viewer-${kind}`, 'viewer');
    await expect(viewer.admin.events.recover.mutate({ reason: 'not allowed' })).rejects.toMatchObject({ data: { code: 'FORBIDDEN' } });
    await expect(operator.admin.events.recover.mutate({ reason: '' })).rejects.toMatchObject({ data: { code: 'BAD_REQUEST' } });
  });
});

/**
 * Which events a run scans, seen from the service itself: a fresh database and simulator per test,
 * whose event list is set up directly (`created` times in the past, delivered or not), so the
 * inbox's newest event and the gap behind it are exactly what each test says.
 */
describe.each(TEST_BACKENDS)('which events a recovery run scans on %s', (kind) => {
  const now = Math.floor(Date.now() / 1000);
  let database: TestDatabase;
  let simulator: StripeSimulator;
  let recovery: EventRecovery;
  beforeEach(async () => {
    database = await createTestDatabase(kind);
    simulator = await startStripeSimulator();
    const stripe = createStripeClient('sk_test_settle', simulator.url);
    recovery = createEventRecovery({ db: database.db, stripe, logger: createLogger('silent'), metrics: createMetrics(), processNow: () => {} });
  });
  afterEach(async () => {
    await recovery.stop();
    await simulator.close();
    await database.dispose();
  });

  /** An event in Stripe's list, created `created` (epoch seconds), whose delivery succeeded or not. */
  const atStripe = (id: string, created: number, delivered: boolean): StripeEvent => {
    const event: StripeEvent = {
      id, object: 'event', type: 'customer.created', created, api_version: '2025-03-31.basil', livemode: false, pending_webhooks: 0,
      request: { id: null, idempotency_key: null }, data: { object: { id: `cus_${id}`, object: 'customer' } },
    };
    simulator.state.events.set(id, event);
    if (delivered) simulator.state.deliveries.set(id, 'delivered');
    return event;
  };
  /** The event as Settle's inbox holds it once received. */
  const inInbox = (e: StripeEvent) =>
    insertEvents(database.db, [{ id: e.id, type: e.type, object_id: null, stripe_created: new Date(e.created * 1000), api_version: null, livemode: false, payload: JSON.stringify(e) }]);
  const storedIds = async () => (await database.db.selectFrom('stripe_events').select('id').orderBy('id').execute()).map((r) => r.id);

  it('an admin call made while a scheduled run is in progress scans the window it asked for, with its own counts and audit entry', async () => {
    await inInbox(atStripe('evt_newest', now - 60, true));
    atStripe('evt_three_days_ago', now - 3 * 86_400, true);

    const scheduled = recovery.recover({ trigger: 'schedule' });
    // The run starts at once and is now waiting on Stripe's first page: the calls below arrive during it.
    expect(recovery.progress()).toMatchObject({ running: true, phase: 'undelivered' });
    expect(recovery.recover({ trigger: 'schedule' })).toBe(scheduled);
    const since = new Date((now - 4 * 86_400) * 1000);
    const admin = recovery.recover({ trigger: 'admin', since, actor: 'admin:ops', reason: 'outage since Monday' });

    // The scheduled run's window starts shortly before evt_newest; only the admin's reaches back four days.
    expect(await scheduled).toEqual({ listed: 1, stored: 0, alreadyKnown: 1 });
    expect(await admin).toEqual({ listed: 2, stored: 1, alreadyKnown: 1 });
    expect(await storedIds()).toEqual(['evt_newest', 'evt_three_days_ago']);
    const audit = await database.db.selectFrom('admin_audit').selectAll().where('action', '=', 'events.recover').execute();
    expect(audit).toMatchObject([{ actor: 'admin:ops', reason: 'outage since Monday', details: { stored: 1, since: since.toISOString() } }]);
  });

  it('the default window starts before the newest event Settle had when the run began, not one the run itself just stored', async () => {
    // Settle last heard from Stripe two days ago (e.g. the inbox was restored from a backup); Stripe
    // delivered an event a day ago elsewhere, and one from a minute ago is still undelivered.
    await inInbox(atStripe('evt_last_heard', now - 2 * 86_400, true));
    atStripe('evt_during_gap', now - 86_400, true);
    atStripe('evt_just_now_pending', now - 60, false);

    expect(await recovery.recover({ trigger: 'schedule' })).toEqual({ listed: 3, stored: 2, alreadyKnown: 1 });
    expect(await storedIds()).toEqual(['evt_during_gap', 'evt_just_now_pending', 'evt_last_heard']);
  });

  it('an event a Stripe test clock dated in the future does not move the default window past the real ones', async () => {
    await inInbox(atStripe('evt_real', now - 3_600, true));
    // A test clock advanced a month: its events carry the simulated time.
    await inInbox(atStripe('evt_test_clock', now + 30 * 86_400, true));
    atStripe('evt_missed', now - 1_800, true);

    expect(await recovery.recover({ trigger: 'schedule' })).toMatchObject({ stored: 1 });
    expect(await storedIds()).toEqual(['evt_missed', 'evt_real', 'evt_test_clock']);
  });
});
