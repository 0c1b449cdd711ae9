import { describe, expect, it } from 'vitest';
import { EVENT_GENERATION_RESOLVED, needsStripeRead, resolveStoredEvent } from './stripe-event-resolver.js';

const thin = (type: string) => ({ id: 'evt_thin_1', object: 'v2.core.event', type, created: '2026-12-01T00:00:00.000Z', related_object: { id: 'pi_1', type: 'payment_intent', url: '/v1/payment_intents/pi_1' } });
const event = (type: string, object: Record<string, unknown>) => ({ id: 'evt_1', object: 'event', type, created: 1_780_000_000, data: { object } });

describe('needsStripeRead: which stored payloads the inbox asks Stripe about before its transaction', () => {
  it('thin notifications Settle reads, and the event generation incident', () => {
    expect(needsStripeRead(thin('v1.payment_intent.succeeded'))).toBe(true);
    expect(needsStripeRead(thin(EVENT_GENERATION_RESOLVED))).toBe(true);
    expect(needsStripeRead(thin('v2.core.account.updated'))).toBe(false);
  });

  it('refunds and disputes that name only their charge; not those that name the PaymentIntent', () => {
    expect(needsStripeRead(event('charge.refunded', { id: 'ch_1', object: 'charge' }))).toBe(true);
    expect(needsStripeRead(event('charge.dispute.created', { id: 'dp_1', object: 'dispute', charge: 'ch_1' }))).toBe(true);
    expect(needsStripeRead(event('refund.updated', { id: 're_1', object: 'refund', charge: 'ch_1' }))).toBe(true);
    expect(needsStripeRead(event('charge.refunded', { id: 'ch_1', object: 'charge', payment_intent: 'pi_1' }))).toBe(false);
    expect(needsStripeRead(event('charge.dispute.closed', { id: 'dp_1', object: 'dispute', charge: 'ch_1', payment_intent: 'pi_1' }))).toBe(false);
  });

  it('everything else is read as stored', () => {
    expect(needsStripeRead(event('payment_intent.succeeded', { id: 'pi_1', object: 'payment_intent' }))).toBe(false);
    expect(needsStripeRead(event('checkout.session.completed', { id: 'cs_1', object: 'checkout.session' }))).toBe(false);
    expect(needsStripeRead(null)).toBe(false);
    expect(needsStripeRead('text')).toBe(false);
    expect(needsStripeRead({ type: 'charge.refunded' })).toBe(false);
  });

  it('agrees with resolveStoredEvent: what it says needs no read resolves without Stripe', async () => {
    for (const payload of [event('payment_intent.succeeded', { id: 'pi_1' }), event('charge.refunded', { id: 'ch_1', object: 'charge', payment_intent: 'pi_1' }), thin('v2.core.account.updated')]) {
      expect(needsStripeRead(payload)).toBe(false);
      await expect(resolveStoredEvent(null, payload)).resolves.toBeDefined();
    }
    // And what needs one cannot be resolved offline.
    await expect(resolveStoredEvent(null, thin('v1.payment_intent.succeeded'))).rejects.toThrow(/needs the Stripe API/);
  });
});
