import { sql } from 'kysely';
import type { Db } from '../database.js';
import { SUBSCRIPTION_IN_REVIEW } from './subscription.repository.js';

/**
 * What the console's "Needs attention" view lists. `operator` kinds wait for a person at Settle;
 * `no_action` kinds look stuck but resolve without one (Stripe expires abandoned checkouts; a
 * customer whose payment failed may pay again), so they are shown apart, never mixed in.
 */
export const ATTENTION_KINDS = {
  processing_overdue: 'operator',
  requires_action_overdue: 'operator',
  needs_review: 'operator',
  dead_letter: 'operator',
  unmatched_event: 'operator',
  duplicate_payment: 'operator',
  subscription_review: 'operator',
  abandoned_checkout: 'no_action',
  customer_failure: 'no_action',
} as const;
export type AttentionKind = keyof typeof ATTENTION_KINDS;

export type AttentionThresholds = {
  /** An async payment (`processing`) older than this has outlived its expected settlement time. */
  processingMinutes: number;
  /** A payment waiting for the customer's action (3-D Secure…) this long is worth a look. */
  requiresActionMinutes: number;
  /** A `pending` checkout this old was most likely abandoned. */
  abandonedMinutes: number;
};

export type AttentionItem = {
  kind: AttentionKind;
  orderId: string | null;
  eventId: string | null;
  /** The subscription a `subscription_review` item is about (Stripe's id); null for every other kind. */
  subscriptionId: string | null;
  status: string | null;
  amount: number | null;
  currency: string | null;
  /** Since when it has been in this state (an order's last change, an event's arrival). */
  since: Date;
  detail: string | null;
};

type AttentionList = { kind: AttentionKind; items: AttentionItem[]; n: number };

/**
 * Second payments of an already paid order that are not refunded in full: the customer paid twice
 * and only an operator gives the money back. Since Stripe's time of the second payment.
 */
async function duplicatePayments(db: Db, limit: number): Promise<AttentionList> {
  const open = sql`d.amount_refunded < d.amount`;
  const [rows, n] = await Promise.all([
    sql<{ payment_intent_id: string; order_id: string; amount: number; currency: string; amount_refunded: number; paid_at: Date; status: string }>`
      select d.payment_intent_id, d.order_id, d.amount, d.currency, d.amount_refunded, d.paid_at, o.status
      from duplicate_payments d join orders o on o.id = d.order_id
      where ${open} order by d.paid_at, d.payment_intent_id limit ${limit}`.execute(db),
    sql<{ n: number }>`select count(*)::int as n from duplicate_payments d where ${open}`.execute(db),
  ]);
  const items = rows.rows.map((r): AttentionItem => {
    const refunded = Number(r.amount_refunded);
    return {
      kind: 'duplicate_payment',
      orderId: r.order_id,
      eventId: null,
      subscriptionId: null,
      status: r.status,
      amount: Number(r.amount),
      currency: r.currency,
      since: new Date(r.paid_at),
      detail: `charged again by ${r.payment_intent_id}${refunded > 0 ? ` (${refunded} of ${Number(r.amount)} refunded so far)` : ''}; refund it`,
    };
  });
  return { kind: 'duplicate_payment', items, n: Number(n.rows[0]?.n ?? 0) };
}

/**
 * Subscriptions parked for review: their item moved to a price the catalogue does not know, and
 * the last known plan is kept until someone decides. Since the newest review on their timeline.
 * (`SUBSCRIPTION_IN_REVIEW`: a canceled one grants nothing and waits for no one.)
 */
async function subscriptionReviews(db: Db, limit: number): Promise<AttentionList> {
  const [rows, n] = await Promise.all([
    sql<{ id: string; order_id: string | null; status: string; plan: string | null; unknown_price_id: string; since: Date }>`
      select s.id, s.order_id, s.status, s.plan, s.unknown_price_id, s.since from (
        select s.*, coalesce(
          (select max(h.created_at) from subscription_history h where h.subscription_id = s.id and h.kind = 'review'),
          s.updated_at) as since
        from subscriptions s where ${SUBSCRIPTION_IN_REVIEW}) s
      order by s.since, s.id limit ${limit}`.execute(db),
    sql<{ n: number }>`select count(*)::int as n from subscriptions s where ${SUBSCRIPTION_IN_REVIEW}`.execute(db),
  ]);
  const items = rows.rows.map(
    (r): AttentionItem => ({
      kind: 'subscription_review',
      orderId: r.order_id,
      eventId: null,
      subscriptionId: r.id,
      status: r.status,
      amount: null,
      currency: null,
      since: new Date(r.since),
      detail: `price ${r.unknown_price_id} is not in the catalogue; plan ${r.plan ?? 'none'} kept`,
    }),
  );
  return { kind: 'subscription_review', items, n: Number(n.rows[0]?.n ?? 0) };
}

/**
 * Every attention kind's oldest items (oldest first, up to `limit` each) and how many there are.
 * Order and event queries run on an index: orders (status, updated_at), events (state, received_at);
 * duplicate payments and subscriptions under review are few (each is an incident).
 */
export async function listAttention(db: Db, t: AttentionThresholds, limit: number): Promise<{ items: AttentionItem[]; counts: Record<AttentionKind, number> }> {
  const older = (minutes: number) => sql<Date>`now() - ${`${minutes} minutes`}::interval`;
  const orderKinds: [AttentionKind, string, number][] = [
    ['processing_overdue', 'processing', t.processingMinutes],
    ['requires_action_overdue', 'requires_action', t.requiresActionMinutes],
    ['needs_review', 'needs_review', 0],
    ['abandoned_checkout', 'pending', t.abandonedMinutes],
    ['customer_failure', 'failed', 0],
  ];
  const orderLists = orderKinds.map(async ([kind, status, minutes]) => {
    const where = sql`status = ${status} and updated_at <= ${older(minutes)}`;
    const [rows, n] = await Promise.all([
      sql<{ id: string; amount: number; currency: string; updated_at: Date; review_reason: string | null; failure_reason: string | null }>`
        select id, amount, currency, updated_at, review_reason, failure_reason from orders where ${where} order by updated_at limit ${limit}`.execute(db),
      sql<{ n: number }>`select count(*)::int as n from orders where ${where}`.execute(db),
    ]);
    const items = rows.rows.map(
      (r): AttentionItem => ({
        kind,
        orderId: r.id,
        eventId: null,
        subscriptionId: null,
        status,
        amount: Number(r.amount),
        currency: r.currency,
        since: new Date(r.updated_at),
        detail: r.review_reason ?? r.failure_reason,
      }),
    );
    return { kind, items, n: Number(n.rows[0]?.n ?? 0) };
  });
  const eventKinds: [AttentionKind, string][] = [
    ['dead_letter', 'dead'],
    ['unmatched_event', 'unmatched'],
  ];
  const eventLists = eventKinds.map(async ([kind, state]) => {
    const [rows, n] = await Promise.all([
      // The order's amount when the event names an order: an operator weighs a dead letter by what it is about.
      sql<{ id: string; type: string; order_id: string | null; received_at: Date; last_error: string | null; amount: number | null; currency: string | null }>`
        select e.id, e.type, e.order_id, e.received_at, e.last_error, o.amount, o.currency
        from stripe_events e left join orders o on o.id = e.order_id
        where e.state = ${state} order by e.received_at limit ${limit}`.execute(db),
      sql<{ n: number }>`select count(*)::int as n from stripe_events where state = ${state}`.execute(db),
    ]);
    const items = rows.rows.map(
      (r): AttentionItem => ({
        kind,
        orderId: r.order_id,
        eventId: r.id,
        subscriptionId: null,
        status: r.type,
        amount: r.amount === null ? null : Number(r.amount),
        currency: r.currency,
        since: new Date(r.received_at),
        detail: r.last_error,
      }),
    );
    return { kind, items, n: Number(n.rows[0]?.n ?? 0) };
  });
  const lists = await Promise.all([...orderLists, ...eventLists, duplicatePayments(db, limit), subscriptionReviews(db, limit)]);
  const counts = Object.fromEntries(lists.map((l) => [l.kind, l.n])) as Record<AttentionKind, number>;
  const items = lists.flatMap((l) => l.items).sort((a, b) => a.since.getTime() - b.since.getTime());
  return { items, counts };
}
