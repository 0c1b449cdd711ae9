import { beginRefundRequest, findOrder, findRefundRequest, isRefundUndone, recordAdminAction, settleRefundRequest, type AdminRefundRequestRow, type OrderRow } from '@settle/db';
import type { AppDeps } from '../app-deps.js';
import { errorMessage, stripeFailure } from '../lib/errors.js';
import { duplicatePaymentRefundLimit } from './refund-target.js';

export type RefundResult =
  | { ok: true; refundId: string; amount: number; status: string | null }
  | { ok: false; code: 'NOT_FOUND' | 'PRECONDITION' | 'INVALID' | 'UNAVAILABLE' | 'CONFLICT'; message: string };

const REFUNDABLE = ['succeeded', 'partially_refunded'];
/** A request still `requested` this long after it began is taken to have died mid-call, and is asked again. */
const STALE_REQUEST_MS = 60_000;
/** How long Stripe keeps an idempotency key (at least 24 h): a repeat without the caller's id is answered within it. */
const REPEAT_WINDOW_MS = 24 * 3_600_000;

/**
 * Ask Stripe to refund (part of) an order. The order's state is not touched here: Stripe's
 * `charge.refunded` webhook moves it, through the same path as any refund made in Stripe's
 * dashboard.
 *
 * Each refund an operator means is one request, keyed by the caller's request id (the console
 * sends one per dialog; without one the key is derived from what was refunded so far). The
 * request and its audit row are written in one transaction before Stripe is asked, and settled
 * together with Stripe's answer after, so a repeat (a double-clicked confirm) refunds once and
 * leaves one audit row, and a refusal is in the audit log with its error. The same key is
 * Stripe's idempotency key, so asking again after a crash or a timeout cannot refund twice.
 */
export async function refundOrder(
  deps: AppDeps,
  orderId: string,
  amount: number | undefined,
  reason: string,
  actor: string,
  /** The caller's id for this refund (one per "refund" dialog): repeats refund once, whatever happened between. */
  requestId?: string,
  /** A duplicate payment of the order to refund instead of its own payment (the order is not touched). */
  paymentIntentId?: string,
): Promise<RefundResult> {
  const db = deps.database.db;
  const refused = async (code: Exclude<RefundResult, { ok: true }>['code'], message: string): Promise<RefundResult> => {
    await recordAdminAction(db, { actor, action: 'orders.refund', target: `order:${orderId}`, reason, details: { amount: amount ?? null, status: 'refused', error: message } });
    return { ok: false, code, message };
  };
  const stripe = deps.stripe;
  if (!stripe) return refused('PRECONDITION', 'Stripe is not configured on this server');
  const order = await findOrder(db, orderId);
  if (!order) return refused('NOT_FOUND', 'order not found');
  const requestKey = requestId ? `settle-refund-${orderId}-${requestId}` : null;

  const seen = requestKey ? await findRefundRequest(db, requestKey) : undefined;
  if (seen) return answerRepeat(seen);

  const duplicate = paymentIntentId && paymentIntentId !== order.payment_intent_id ? await duplicatePaymentRefundLimit(db, order, paymentIntentId) : null;
  const limit = duplicate ?? (await refundableAmount(deps, order));
  if (!limit.ok) return refused(limit.code, limit.message);
  const value = amount ?? limit.remaining;
  if (value <= 0 || value > limit.remaining) return refused('INVALID', `amount must be between 1 and ${limit.remaining}`);
  let key = requestKey;
  if (!key) {
    // Without the caller's id, a repeat is the same payment and amount again (the caller lost the
    // first answer: a timeout, a dropped connection), whatever Stripe reported meanwhile: the key
    // names nothing that a webhook changes. The key's latest request answers a repeat while it
    // stands; one that failed or was canceled since, or older than Stripe keeps idempotency keys
    // (24 h), is no answer: the call is a new refund, under the next key in the series.
    const derived = `settle-refund-${orderId}-${duplicate?.ok ? duplicate.paymentIntentId : 'order'}-${value}`;
    for (let n = 0; ; n += 1) {
      const candidate = n === 0 ? derived : `${derived}-${n}`;
      const earlier = await findRefundRequest(db, candidate);
      if (!earlier) {
        key = candidate;
        break;
      }
      const stale = Date.now() - new Date(earlier.created_at).getTime() > REPEAT_WINDOW_MS;
      const undone = earlier.stripe_refund_id !== null && (await isRefundUndone(db, earlier.stripe_refund_id));
      // A request whose call failed (Stripe refused or could not be heard) is asked again under
      // its own key: if Stripe made the refund before the answer was lost, it answers that one.
      if (!stale && !undone) return answerRepeat(earlier);
    }
  }

  const { created, request } = await db.transaction().execute((trx) =>
    beginRefundRequest(trx, {
      requestKey: key,
      orderId,
      paymentIntentId: duplicate?.ok ? duplicate.paymentIntentId : order.payment_intent_id!,
      amount: value,
      currency: duplicate?.ok ? duplicate.currency : order.currency,
      actor,
      reason,
    }),
  );
  if (!created) return answerRepeat(request);
  return askStripe(request);

  /** A request seen before: its result, or Stripe asked again (same key) when it failed or died mid-call. */
  async function answerRepeat(request: AdminRefundRequestRow): Promise<RefundResult> {
    if (request.state === 'succeeded') return { ok: true, refundId: request.stripe_refund_id!, amount: Number(request.amount), status: request.stripe_status };
    if (request.state === 'requested' && Date.now() - new Date(request.updated_at).getTime() < STALE_REQUEST_MS) {
      return { ok: false, code: 'CONFLICT', message: 'this refund is being requested from Stripe already' };
    }
    return askStripe(request);
  }

  async function askStripe(request: AdminRefundRequestRow): Promise<RefundResult> {
    try {
      const refund = await stripe!.refunds.create(
        { payment_intent: request.payment_intent_id, amount: Number(request.amount), reason: 'requested_by_customer', metadata: { orderId, actor } },
        { idempotencyKey: request.request_key },
      );
      await db.transaction().execute((trx) => settleRefundRequest(trx, request.request_key, { ok: true, refundId: refund.id, status: refund.status }));
      return { ok: true, refundId: refund.id, amount: Number(request.amount), status: refund.status };
    } catch (err) {
      deps.logger.warn({ orderId, err: errorMessage(err) }, 'refund request failed');
      const failure = stripeFailure(err, 'refund');
      await db.transaction().execute((trx) => settleRefundRequest(trx, request.request_key, { ok: false, error: failure.message }));
      return { ok: false, code: failure.code, message: failure.message };
    }
  }
}

/**
 * How much of an order can still be refunded. A paid order: its amount less what was refunded. A
 * `needs_review` order (parked because the payment did not match, e.g. partly paid): what Stripe
 * says was actually received on its payment, less what was refunded.
 */
async function refundableAmount(deps: AppDeps, order: OrderRow): Promise<{ ok: true; remaining: number } | { ok: false; code: 'PRECONDITION' | 'NOT_FOUND' | 'UNAVAILABLE' | 'INVALID'; message: string }> {
  if (!order.payment_intent_id) return { ok: false, code: 'PRECONDITION', message: 'order has no payment to refund' };
  if (REFUNDABLE.includes(order.status)) return { ok: true, remaining: Number(order.amount) - Number(order.amount_refunded) };
  if (order.status !== 'needs_review') return { ok: false, code: 'PRECONDITION', message: `an order that is ${order.status} cannot be refunded` };
  try {
    const intent = await deps.stripe!.paymentIntents.retrieve(order.payment_intent_id);
    const received = intent.amount_received ?? 0;
    if (received <= 0) return { ok: false, code: 'PRECONDITION', message: 'nothing was received on this order’s payment' };
    return { ok: true, remaining: received - Number(order.amount_refunded) };
  } catch (err) {
    return stripeFailure(err, 'payment lookup');
  }
}
