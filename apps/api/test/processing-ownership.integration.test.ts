import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { claimDueEvents, insertEvents, releaseLeases, sql, type NewStripeEvent } from '@settle/db';
import { createTestDatabase, TEST_BACKENDS, type TestDatabase } from '@settle/db/testing';
import type { StripeEventLike } from '@settle/payments-core';
import { journeyEvents, type StripeEvent } from '@settle/stripe-simulator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../src/lib/logger.js';
import { createMetrics } from '../src/lib/metrics.js';
import { createStripeClient } from '../src/lib/stripe-client.js';
import { loadCatalogue } from '../src/payments/product-catalogue.js';
import { createInboxProcessor } from '../src/workers/inbox-processor.js';
import { seedOrder } from './harness.js';

const WORKER = 'host:1:abc';

/** A Stripe that holds every request until `release` answers them all with Stripe's 404. */
async function holdingStripe() {
  const held: ServerResponse[] = [];
  const server = createServer((_req, res) => void held.push(res));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const answer = () => {
    for (const res of held.splice(0)) res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { type: 'invalid_request_error', message: 'No such object' } }));
  };
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    held: () => held.length,
    release: answer,
    close: () => new Promise<void>((r) => {
      answer();
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}

const row = (e: { id: string; type: string; created: number }, payload: unknown, objectId: string | null): NewStripeEvent => ({
  id: e.id, type: e.type, object_id: objectId, stripe_created: new Date(e.created * 1000), api_version: null, livemode: false, payload: JSON.stringify(payload),
});

/**
 * One worker per event, inside one instance too: an event claimed again while the call that
 * took it still runs (waiting on Stripe for another event of its batch) is left to that call,
 * but only until its outcome is committed; a retry that falls due meanwhile is taken at once.
 */
describe.each(TEST_BACKENDS)('which call processes an event, on %s', (kind) => {
  let database: TestDatabase;
  let stripe: Awaited<ReturnType<typeof holdingStripe>>;
  beforeAll(async () => {
    database = await createTestDatabase(kind);
    stripe = await holdingStripe();
  });
  afterAll(async () => {
    await stripe?.close();
    await database?.dispose();
  });
  /** This worker's processor, reading Stripe through the holding server. */
  const processorOf = (beforeApply?: (event: StripeEventLike) => void) =>
    createInboxProcessor({
      db: database.db,
      catalogue: loadCatalogue(undefined),
      stripe: createStripeClient('sk_test_holding', stripe.url),
      retry: { baseDelayMs: 10, maxDelayMs: 20, maxAttempts: 5 },
      unmatchedMaxAttempts: 3,
      logger: createLogger('silent'),
      metrics: createMetrics(),
      lease: { workerId: WORKER, ms: 30_000 },
      ...(beforeApply ? { beforeApply } : {}),
    });

  it('a retry claimed while its batch still waits on Stripe for another event is processed at once, not held by the lease', async () => {
    const order = await seedOrder(database.db);
    const succeeded = journeyEvents('card_success', { orderId: order.id, checkoutSessionId: order.checkout_session_id!, amount: 995, currency: 'usd', startAt: Math.floor(Date.now() / 1000) - 60 })
      .find((e) => e.type === 'payment_intent.succeeded') as StripeEvent;
    // A thin notification naming an object Stripe will be slow to return.
    const thin = { id: `evt_thin_${order.id.slice(0, 8)}`, type: 'v1.payment_intent.succeeded', created: Math.floor(Date.now() / 1000) };
    const thinPayload = { id: thin.id, object: 'v2.core.event', type: thin.type, created: new Date().toISOString(), livemode: false, related_object: { id: 'pi_slow', type: 'payment_intent', url: '/v1/payment_intents/pi_slow' } };
    await insertEvents(database.db, [row(succeeded, succeeded, (succeeded.data.object as { id: string }).id), row(thin, thinPayload, 'pi_slow')]);

    // The handler fails for the payment in this batch (both its passes): retried a moment later.
    let faults = 2;
    const processor = processorOf((event) => {
      if (event.id === succeeded.id && faults-- > 0) throw new Error('injected handler fault');
    });

    const batch = processor.processBatch([succeeded.id, thin.id]);
    while (stripe.held() === 0) await new Promise((r) => setTimeout(r, 20));
    // The batch now waits on Stripe for the thin notification; the payment failed its first attempt.
    const state = async () => database.db.selectFrom('stripe_events').select(['state', 'attempts']).where('id', '=', succeeded.id).executeTakeFirstOrThrow();
    expect(await state()).toMatchObject({ state: 'failed', attempts: 1 });
    await new Promise((r) => setTimeout(r, 50)); // its retry falls due

    // This worker's poller claims the due retry (a lease in its name) and processes it.
    const claimed = await claimDueEvents(database.db, { limit: 10, leaseMs: 30_000, workerId: WORKER });
    expect(claimed).toEqual([succeeded.id]);
    const [retried] = await processor.processBatch(claimed);
    expect(retried).toMatchObject({ status: 'processed' });
    expect(await state()).toMatchObject({ state: 'processed', attempts: 2 });

    stripe.release();
    await batch;
  });

  // One connection on PGlite: a transaction of the test's own would keep the processor out altogether.
  it.skipIf(kind === 'pglite')('an event whose row another transaction holds when its Stripe read returns is left for the next claim at once, not kept under the read lease', async () => {
    const thin = { id: `evt_thin_locked_${Date.now()}`, type: 'v1.payment_intent.succeeded', created: Math.floor(Date.now() / 1000) };
    const payload = { id: thin.id, object: 'v2.core.event', type: thin.type, created: new Date().toISOString(), livemode: false, related_object: { id: 'pi_locked', type: 'payment_intent', url: '/v1/payment_intents/pi_locked' } };
    await insertEvents(database.db, [row(thin, payload, 'pi_locked')]);
    const processor = processorOf();
    const call = processor.processBatch([thin.id]);
    while (stripe.held() === 0) await new Promise((r) => setTimeout(r, 20));
    // Stripe answers while something else (a console read, another instance's claim) holds the row.
    const [result] = await database.db.transaction().execute(async (trx) => {
      await sql`select id from stripe_events where id = ${thin.id} for update`.execute(trx);
      stripe.release();
      return call;
    });
    expect(result).toEqual({ status: 'busy' });
    // Nothing was decided: any worker may take it now, not only this one once its lease ends.
    await expect.poll(async () => {
      const claimed = await claimDueEvents(database.db, { limit: 100, leaseMs: 30_000, workerId: 'another-instance' });
      await releaseLeases(database.db, 'another-instance');
      return claimed;
    }, { timeout: 5_000 }).toContain(thin.id);
  });

  it('an event reaching the processor twice while it waits on Stripe is read from Stripe once', async () => {
    const thin = { id: `evt_thin_twice_${Date.now()}`, type: 'v1.payment_intent.succeeded', created: Math.floor(Date.now() / 1000) };
    const payload = { id: thin.id, object: 'v2.core.event', type: thin.type, created: new Date().toISOString(), livemode: false, related_object: { id: 'pi_twice', type: 'payment_intent', url: '/v1/payment_intents/pi_twice' } };
    await insertEvents(database.db, [row(thin, payload, 'pi_twice')]);
    const processor = processorOf();
    const first = processor.processBatch([thin.id]);
    while (stripe.held() === 0) await new Promise((r) => setTimeout(r, 20));
    // Stored a moment ago and claimed by this instance's poller as well: left to the first call.
    expect(await processor.processBatch([thin.id])).toEqual([{ status: 'busy' }]);
    await new Promise((r) => setTimeout(r, 100));
    expect(stripe.held()).toBe(1);
    stripe.release();
    await first;
  });
});
