import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Stripe from 'stripe';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from './cli.js';
import { startStripeSimulator } from './simulator.js';
import { captureCli, useSimulator } from './test-support.js';

const h = useSimulator();

const cli = () => captureCli(h.sim.url);

describe('lost deliveries (--drop)', () => {
  it('records dropped events in the event list, never delivers them, and lists them as undelivered', async () => {
    const session = await h.createCheckout();
    const run = await h.sim.runJourney('card_success', session.id, { drop: ['invoice.paid', 'checkout.session.completed'] });
    const dropped = run.events.filter((e) => e.type === 'invoice.paid' || e.type === 'checkout.session.completed').map((e) => e.id);
    expect(dropped).toHaveLength(2);
    expect(run.deliveries.filter((d) => d.dropped).map((d) => d.eventId).sort()).toEqual([...dropped].sort());
    expect(run.deliveries.filter((d) => d.dropped).every((d) => d.attempts === 0 && !d.ok)).toBe(true);
    const received = await h.receiver.waitFor(run.events.length - 2);
    expect(received.map((e) => e.id)).not.toContain(dropped[0]);

    const listed = await h.stripe.events.list({ limit: 100 }).autoPagingToArray({ limit: 10_000 });
    for (const id of dropped) expect(listed.map((e) => e.id)).toContain(id);
    const undelivered = await h.stripe.events.list({ delivery_success: false, limit: 100 }).autoPagingToArray({ limit: 10_000 });
    expect(undelivered.map((e) => e.id).filter((id) => run.events.some((e) => e.id === id)).sort()).toEqual([...dropped].sort());
    const delivered = await h.stripe.events.list({ delivery_success: true, limit: 100 }).autoPagingToArray({ limit: 10_000 });
    expect(delivered.map((e) => e.id)).not.toContain(dropped[0]);
    expect(delivered.map((e) => e.id)).toContain(received[0]!.id);
    expect((await h.stripe.events.retrieve(dropped[0]!)).pending_webhooks).toBe(1);
  });

  it('refuses a type the journey does not emit, before anything changes', async () => {
    const session = await h.createCheckout();
    const before = h.sim.events().length;
    await expect(h.sim.runJourney('card_success', session.id, { drop: ['refund.created'] })).rejects.toMatchObject({ status: 400 });
    expect(h.sim.events().length).toBe(before);
    expect((await h.stripe.checkout.sessions.retrieve(session.id)).status).toBe('open');
    const { err, io } = cli();
    expect(await main(['card_success', '--session', session.id, '--fail', 'teleport.created'], io)).toBe(1);
    expect(err.join('\n')).toContain('card_success emits no such event');
  });
});

describe('events that fail processing (--fail, fix)', () => {
  it('marks the chosen events until fixed, over the API and the CLI', async () => {
    const session = await h.createCheckout();
    const { out, err, io } = cli();
    expect(await main(['card_success', '--session', session.id, '--fail', 'checkout.session.completed'], io)).toBe(0);
    expect(err).toEqual([]);
    const completed = h.sim.events().find((e) => e.type === 'checkout.session.completed' && (e.data.object as { id: string }).id === session.id)!;
    expect(out.join('\n')).toContain(`marked to fail processing: checkout.session.completed ${completed.id}`);
    expect(h.sim.failsProcessing(completed.id)).toBe(true);
    expect(h.sim.events().filter((e) => h.sim.failsProcessing(e.id))).toHaveLength(1);

    const listed = cli();
    expect(await main(['failing'], listed.io)).toBe(0);
    expect(listed.out).toEqual([`failing ${completed.id} (checkout.session.completed)`]);
    const fixed = cli();
    expect(await main(['fix', completed.id], fixed.io)).toBe(0);
    expect(fixed.out[0]).toContain(`fixed ${completed.id}`);
    expect(h.sim.failsProcessing(completed.id)).toBe(false);
    const unknown = cli();
    expect(await main(['fix', 'evt_nope'], unknown.io)).toBe(1);
    expect(unknown.err[0]).toContain("No such event: 'evt_nope'");
  });
});

describe('state beside the database (stateDir)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'stripe-simulator-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('survives a restart: objects, events, delivery outcomes, marks and invoice numbering', async () => {
    const first = await startStripeSimulator({ stateDir: dir });
    const stripe = new Stripe('sk_test_sim', { host: '127.0.0.1', port: first.port, protocol: 'http', maxNetworkRetries: 0 });
    const orderId = crypto.randomUUID();
    const sessionFor = (client: Stripe, order: string, amount: number) => client.checkout.sessions.create({
      mode: 'payment',
      line_items: [{ price_data: { currency: 'eur', unit_amount: amount, product_data: { name: 'credits' } }, quantity: 1 }],
      metadata: { orderId: order },
      invoice_creation: { enabled: true },
    }, { idempotencyKey: `k-${order}` });
    const session = await sessionFor(stripe, orderId, 500);
    const run = await first.runJourney('card_success', session.id, { fail: ['payment_intent.succeeded'] });
    const failing = run.events.find((e) => e.type === 'payment_intent.succeeded')!.id;
    await first.close();

    const second = await startStripeSimulator({ stateDir: dir, port: first.port });
    try {
      const again = new Stripe('sk_test_sim', { host: '127.0.0.1', port: second.port, protocol: 'http', maxNetworkRetries: 0 });
      const done = await again.checkout.sessions.retrieve(session.id);
      expect(done).toMatchObject({ status: 'complete', payment_status: 'paid' });
      expect((await again.paymentIntents.retrieve(done.payment_intent as string)).status).toBe('succeeded');
      const listed = await again.events.list({ limit: 100 });
      expect(listed.data.map((e) => e.id).sort()).toEqual(run.events.map((e) => e.id).sort());
      expect(second.failsProcessing(failing)).toBe(true);
      // The idempotent create replays after the restart instead of making a second session.
      const replay = await sessionFor(again, orderId, 500);
      expect(replay.id).toBe(session.id);

      const firstNumber = (await again.invoices.retrieve(done.invoice as string)).number!;
      const next = await sessionFor(again, crypto.randomUUID(), 700);
      await second.runJourney('card_success', next.id);
      const nextInvoice = (await again.checkout.sessions.retrieve(next.id)).invoice as string;
      const secondNumber = (await again.invoices.retrieve(nextInvoice)).number!;
      expect(secondNumber).not.toBe(firstNumber);
      const [prefix, seq] = firstNumber.split('-');
      expect(secondNumber).toBe(`${prefix}-${String(Number(seq) + 1).padStart(4, '0')}`);
    } finally {
      await second.close();
    }
  });
});
