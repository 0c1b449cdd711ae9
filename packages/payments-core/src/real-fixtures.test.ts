import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { mapStripeEvent, type MappedEvent, type StripeEventLike } from './stripe-event.mapper.js';

/** Real Stripe payloads other open-source projects publish as fixtures (see test-fixtures/stripe-events/SOURCES.md). */
const DIR = join(import.meta.dirname, '..', 'test-fixtures', 'stripe-events');
export const REAL_FIXTURES: { file: string; event: StripeEventLike }[] = readdirSync(DIR, { recursive: true, encoding: 'utf8' })
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((file) => ({ file, event: JSON.parse(readFileSync(join(DIR, file), 'utf8')) as StripeEventLike }));

/** What each fixture must map to: the command type, or why it is not acted on. */
const EXPECTED: Record<string, string> = {
  'stripe-ruby-mock/charge.dispute.closed.json': 'unsupported: dispute without payment intent',
  'stripe-ruby-mock/charge.dispute.created.json': 'unsupported: dispute without payment intent',
  'stripe-ruby-mock/charge.refund.updated.json': 'unsupported: refund without payment intent',
  'stripe-ruby-mock/charge.refunded.json': 'unsupported: charge without payment intent',
  'stripe-ruby-mock/checkout.session.completed.payment_mode.json': 'checkout_completed',
  // No `api_version` and no `billing_reason`, no subscription on the invoice itself: a one-off invoice's failure.
  'stripe-ruby-mock/invoice.payment_failed.json': 'unsupported: failed payment of an invoice outside a subscription',
  'stripe-ruby-mock/payment_intent.payment_failed.json': 'payment_failed',
  'stripe-ruby-mock/payment_intent.succeeded.json': 'payment_succeeded',
  'stripe-sync-engine/charge_dispute_created.json': 'dispute_opened',
  'stripe-sync-engine/charge_refunded.json': 'charge_refunded',
  'stripe-sync-engine/checkout_session_completed.json': 'checkout_completed',
  'stripe-sync-engine/invoice_payment_paid.json': 'invoice_payment_linked',
  'stripe-sync-engine/payment_intent_canceled.json': 'payment_canceled',
  'stripe-sync-engine/payment_intent_succeeded.json': 'payment_succeeded',
  'stripe-sync-engine/refund_updated.json': 'refund_changed',
};

const summary = (m: MappedEvent) => (m.supported ? m.command.type : `unsupported: ${m.reason}`);

describe('real Stripe payloads (API versions before 2018 to 2023) through the mapper', () => {
  it('has every fixture listed in SOURCES.md and an expectation for each', () => {
    const sources = readFileSync(join(DIR, 'SOURCES.md'), 'utf8');
    for (const { file } of REAL_FIXTURES) expect(sources, file).toContain(`\`${file}\``);
    expect(REAL_FIXTURES.map((f) => f.file)).toEqual(Object.keys(EXPECTED).sort());
  });

  it.each(REAL_FIXTURES)('$file maps without throwing, to what Settle acts on', ({ file, event }) => {
    expect(summary(mapStripeEvent(event))).toBe(EXPECTED[file]);
  });

  it('reads money from every shape: amounts, currencies and refund statuses', () => {
    const by = (file: string) => mapStripeEvent(REAL_FIXTURES.find((f) => f.file === file)!.event);
    expect(by('stripe-ruby-mock/payment_intent.succeeded.json')).toMatchObject({ command: { amount: 2000, currency: 'usd' } });
    expect(by('stripe-sync-engine/charge_refunded.json')).toMatchObject({ command: { amountRefunded: 2500, paymentIntentId: 'pi_3Kl36gJDPojXS6LN02fQVtKR' } });
    expect(by('stripe-sync-engine/refund_updated.json')).toMatchObject({ command: { refund: { refundId: 're_1Nispe2eZvKYlo2Cd31jOCgZ', amount: 1000, status: 'succeeded' } } });
    expect(by('stripe-ruby-mock/payment_intent.payment_failed.json')).toMatchObject({ command: { reason: 'generic_decline' } });
    expect(by('stripe-sync-engine/checkout_session_completed.json')).toMatchObject({ command: { amount: 999, currency: 'eur', paymentStatus: 'paid' } });
  });
});
