import type { PaymentCommand } from './payment-command.js';
import { disputeOutcome, refundFacts } from './stripe-event.mapper.js';

type Obj = Record<string, unknown>;
const asObj = (v: unknown): Obj | null => (typeof v === 'object' && v !== null ? (v as Obj) : null);
const str = (v: unknown): string | null => (typeof v === 'string' && v.length > 0 ? v : null);
const int = (v: unknown): number | null => (typeof v === 'number' && Number.isSafeInteger(v) ? v : null);

/** What the reconciler read from Stripe's API for one order (objects as the API returns them). */
export type StripeSnapshot = {
  checkoutSession: unknown | null;
  paymentIntent: unknown | null;
  /** The intent's latest charge, for refunds and disputes. */
  charge: unknown | null;
  /** The payment's disputes (`GET /v1/disputes?payment_intent=`), oldest or newest first. */
  disputes?: readonly unknown[];
  /** The payment's refunds (`GET /v1/refunds?payment_intent=`): one that failed after Settle counted it is undone. */
  refunds?: readonly unknown[];
};

export type TimedCommand = { command: PaymentCommand; at: number };

/**
 * Turn Stripe's current view of a payment into the commands webhooks would have carried, so the
 * reconciler goes through the same `decide` as events do. Stripe objects carry few status times;
 * where none is known, `now` stands in (the reconciler's reading is the newest fact there is).
 */
export function commandsFromStripeSnapshot(snapshot: StripeSnapshot, now: number): TimedCommand[] {
  const out: TimedCommand[] = [];
  const session = asObj(snapshot.checkoutSession);
  const intent = asObj(snapshot.paymentIntent) ?? asObj(session?.payment_intent);
  const charge = asObj(snapshot.charge) ?? asObj(intent?.latest_charge);
  const piId = str(intent?.id) ?? str(session?.payment_intent);

  if (session) {
    const sessionId = str(session.id);
    const status = str(session.status);
    const paymentStatus = str(session.payment_status);
    if (sessionId && status === 'expired') out.push({ command: { type: 'checkout_expired', checkoutSessionId: sessionId }, at: now });
    const subscriptionId = session.mode === 'subscription' ? str(session.subscription) : null;
    if (sessionId && status === 'complete' && (paymentStatus === 'paid' || paymentStatus === 'unpaid' || paymentStatus === 'no_payment_required')) {
      out.push({
        command: {
          type: 'checkout_completed',
          checkoutSessionId: sessionId,
          paymentIntentId: piId,
          paymentStatus,
          amount: int(session.amount_total),
          currency: str(session.currency),
          ...(subscriptionId ? { subscriptionId } : {}),
        },
        at: int(session.created) ?? now,
      });
    }
  }

  if (intent && piId) {
    const status = str(intent.status);
    const currency = str(intent.currency);
    switch (status) {
      case 'processing':
        out.push({ command: { type: 'payment_processing', paymentIntentId: piId }, at: now });
        break;
      case 'requires_action':
        out.push({ command: { type: 'payment_requires_action', paymentIntentId: piId }, at: now });
        break;
      case 'requires_payment_method': {
        const err = asObj(intent.last_payment_error);
        if (err) {
          const reason = str(err.decline_code) ?? str(err.code) ?? 'payment_failed';
          out.push({ command: { type: 'payment_failed', paymentIntentId: piId, reason }, at: now });
        }
        break;
      }
      case 'canceled':
        out.push({
          command: { type: 'payment_canceled', paymentIntentId: piId, reason: str(intent.cancellation_reason) ?? 'canceled' },
          at: int(intent.canceled_at) ?? now,
        });
        break;
      case 'succeeded': {
        const amount = int(intent.amount_received) ?? int(intent.amount);
        if (amount !== null && currency) {
          out.push({
            command: { type: 'payment_succeeded', paymentIntentId: piId, amount, currency },
            at: int(charge?.created) ?? now,
          });
        }
        break;
      }
    }
  }

  if (charge && piId) {
    const refunded = int(charge.amount_refunded);
    const currency = str(charge.currency);
    if (refunded && refunded > 0 && currency) {
      out.push({ command: { type: 'charge_refunded', paymentIntentId: piId, amountRefunded: refunded, currency }, at: now });
    }
  }

  // Each refund as its `refund.updated` would say now (oldest first): one Settle counted that has
  // failed or been canceled since is undone; one it never heard of is recorded.
  const refunds = (snapshot.refunds ?? []).map(asObj).filter((r): r is Obj => r !== null);
  for (const r of [...refunds].sort((a, b) => (int(a.created) ?? 0) - (int(b.created) ?? 0))) {
    const refund = refundFacts(r);
    if (refund) out.push({ command: { type: 'refund_changed', paymentIntentId: refund.paymentIntentId, refund }, at: now });
  }

  // Disputes, oldest first, as their events would have said: opened, then closed once decided
  // (see `disputeOutcome`); one prevented never opened.
  const disputes = (snapshot.disputes ?? []).map(asObj).filter((d): d is Obj => d !== null && str(d.id) !== null);
  for (const d of [...disputes].sort((a, b) => (int(a.created) ?? 0) - (int(b.created) ?? 0))) {
    const disputeId = str(d.id)!;
    const disputePi = str(d.payment_intent) ?? piId;
    if (!disputePi) continue;
    const created = int(d.created) ?? now;
    const outcome = disputeOutcome(d.status);
    if (outcome !== 'prevented') out.push({ command: { type: 'dispute_opened', paymentIntentId: disputePi, disputeId, amount: int(d.amount) ?? 0 }, at: created });
    if (outcome !== 'open') {
      out.push({ command: { type: 'dispute_closed', paymentIntentId: disputePi, disputeId, outcome }, at: Math.max(created, now) });
    }
  }
  return out;
}
