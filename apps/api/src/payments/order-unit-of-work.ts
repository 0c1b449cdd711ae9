import {
  applyCreditDelta,
  applyCreditDeltas,
  entitlementsUpdatedDraft,
  findInvoicesForOrders,
  findSubscriptionForOrder,
  insertTransitions,
  isOrderId,
  lockOrdersByRefs,
  recordCustomerEmails,
  upsertInvoices,
  writeHostMessages,
  type CreditDelta,
  type HostMessageDraft,
  type NewInvoice,
  type NewOrderTransition,
  type OrderKeys,
  type OrderLookup,
  type OrderRow,
  type Trx,
} from '@settle/db';
import { mapStripeEvent, type StripeEventLike } from '@settle/payments-core';
import { toOrderDto } from './order.mapper.js';
import { isThinNotification } from './stripe-event-resolver.js';

type Key = `id:${string}` | `cs:${string}` | `pi:${string}`;

/**
 * A batch's shared work around the one order use case (`applyOrderCommand`): the orders its
 * events name, read and locked together up front, and the audit rows and host messages its
 * decisions write, written together before the batch settles its events. Decisions stay where they are; only the
 * reads and writes are pooled.
 *
 * Invariants: every row held is locked by the batch's transaction and is the row as that
 * transaction last wrote it (a command that changes a row in a way the cache cannot follow,
 * e.g. a subscription's or a shadow copy's, makes the row be forgotten and read again), and
 * buffered writes are flushed before the transaction commits (`flush`). A miss is never an
 * answer: the database is asked.
 */
export type OrderUnitOfWork = {
  /** The locked row `lockOrderByRef` would find, when the batch holds it; undefined: ask the database. */
  find(ref: OrderLookup): OrderRow | undefined;
  /** Whether the event's order is held by another transaction (leave the event for a later claim). */
  heldElsewhere(eventId: string): boolean;
  /** The row as the transaction has now written it (still locked). */
  remember(row: OrderRow): void;
  /** The row changed in a way the batch does not follow: read it again next time. */
  forget(orderId: string): void;
  /** An audit row, written by `flush`. */
  recordTransition(row: NewOrderTransition): void;
  /** The buyer's e-mail Checkout collected (first one wins), written by `flush`. */
  recordCustomerEmail(orderId: string, email: string): void;
  /**
   * A credit movement (`applyCreditDelta`), applied by `flush` in the order recorded; the host
   * hears the entitlements as they are then. Nothing in a batch reads a balance before `flush`.
   */
  recordCreditDelta(entry: CreditDelta): void;
  /** An invoice upsert (`upsertInvoice`), written by `flush` in the order recorded; nothing in a batch reads invoices before. */
  recordInvoice(invoice: NewInvoice): void;
  /** Host messages (entitlements), written by `flush` in the order drafted. */
  readonly hostMessages: HostMessageDraft[];
  /** The order's status changed: the host hears it as it is at `flush` (`order.updated`). */
  orderUpdated(row: OrderRow): void;
  /** Write what was buffered; call before the batch settles its events and commits. */
  flush(trx: Trx): Promise<void>;
};

/** The order an event names (thin notifications name none until Stripe is asked). */
function orderRefOf(payload: unknown): OrderLookup | null {
  if (isThinNotification(payload) || typeof payload !== 'object' || payload === null) return null;
  try {
    const mapped = mapStripeEvent(payload as StripeEventLike);
    return mapped.supported ? mapped.ref : null;
  } catch {
    return null;
  }
}

/** The lookup steps of `lockOrderByRef`, in its order: the first that finds an order wins. */
function stepsOf(ref: OrderLookup): Key[] {
  const steps: Key[] = [];
  if (isOrderId(ref.orderId)) steps.push(`id:${ref.orderId}`);
  if (ref.checkoutSessionId) steps.push(`cs:${ref.checkoutSessionId}`);
  if (ref.paymentIntentId) steps.push(`pi:${ref.paymentIntentId}`);
  return steps;
}

const keysOf = (row: OrderKeys): Key[] => [
  `id:${row.id}`,
  ...(row.checkout_session_id ? [`cs:${row.checkout_session_id}` as const] : []),
  ...(row.payment_intent_id ? [`pi:${row.payment_intent_id}` as const] : []),
];

/**
 * Open a unit of work for a batch of stored events: one statement reads and locks (in id order)
 * every order the events name that no other transaction holds.
 */
export async function openOrderUnitOfWork(trx: Trx, events: { id: string; payload: unknown }[]): Promise<OrderUnitOfWork> {
  const refOfEvent = new Map<string, OrderLookup>();
  for (const e of events) {
    const ref = orderRefOf(e.payload);
    if (ref) refOfEvent.set(e.id, ref);
  }
  const steps = [...refOfEvent.values()].flatMap(stepsOf);
  const values = (prefix: string) => [...new Set(steps.filter((k) => k.startsWith(prefix)).map((k) => k.slice(3)))];
  const { locked, held } = await lockOrdersByRefs(trx, { ids: values('id:'), checkoutSessionIds: values('cs:'), paymentIntentIds: values('pi:') });
  const rows = new Map<string, OrderRow>();
  const byKey = new Map<Key, string>();
  const heldKeys = new Set(held.flatMap(keysOf));
  // Keys the up-front read asked for and found no order under: a later step of a lookup may go on.
  let known = new Set<Key>(steps.filter((k) => !heldKeys.has(k)));
  const transitions: NewOrderTransition[] = [];
  const creditDeltas: CreditDelta[] = [];
  const invoiceUpserts: NewInvoice[] = [];
  const hostMessages: HostMessageDraft[] = [];
  const updatedOrders = new Map<string, OrderRow>();
  const emails = new Map<string, string>();

  const remember = (row: OrderRow) => {
    rows.set(row.id, row);
    byKey.set(`id:${row.id}`, row.id);
    if (row.checkout_session_id) byKey.set(`cs:${row.checkout_session_id}`, row.id);
    if (row.payment_intent_id) byKey.set(`pi:${row.payment_intent_id}`, row.id);
  };
  for (const row of locked) remember(row);

  /** The held row under a key, if its column still says so. */
  const holding = (key: Key): OrderRow | undefined => {
    const id = byKey.get(key);
    const row = id === undefined ? undefined : rows.get(id);
    if (!row) return undefined;
    const value = key.slice(3);
    const matches = key.startsWith('id:') ? row.id === value : key.startsWith('cs:') ? row.checkout_session_id === value : row.payment_intent_id === value;
    return matches ? row : undefined;
  };

  return {
    find(ref) {
      for (const key of stepsOf(ref)) {
        const row = holding(key);
        if (row) return row;
        // Not asked for up front (or no longer known): only the database can say.
        if (!known.has(key)) return undefined;
      }
      return undefined;
    },
    heldElsewhere(eventId) {
      const ref = refOfEvent.get(eventId);
      if (!ref) return false;
      for (const key of stepsOf(ref)) {
        if (heldKeys.has(key)) return true;
        if (holding(key)) return false;
      }
      return false;
    },
    remember,
    forget(orderId) {
      rows.delete(orderId);
      // A row changed out of sight may now answer to keys that found nothing up front.
      known = new Set();
    },
    recordTransition(row) {
      transitions.push(row);
    },
    recordCustomerEmail(orderId, email) {
      if (!emails.has(orderId)) emails.set(orderId, email);
    },
    recordCreditDelta(entry) {
      creditDeltas.push(entry);
      hostMessages.push(entitlementsUpdatedDraft(entry.userId));
    },
    recordInvoice(invoice) {
      invoiceUpserts.push(invoice);
    },
    hostMessages,
    orderUpdated(row) {
      updatedOrders.set(row.id, row);
      hostMessages.push({ userId: row.user_id, type: 'order.updated', coalesceKey: `order:${row.id}`, data: null });
    },
    async flush(trx) {
      // Invoices and balances first: the host messages below read them.
      await upsertInvoices(trx, invoiceUpserts.splice(0));
      await applyCreditDeltas(trx, creditDeltas.splice(0));
      await insertTransitions(trx, transitions.splice(0));
      await recordCustomerEmails(trx, [...emails].map(([orderId, email]) => ({ orderId, email })));
      emails.clear();
      // Each changed order as the API shows it, its invoice read for all of them at once.
      const invoices = await findInvoicesForOrders(trx, [...updatedOrders.keys()]);
      const views = new Map<string, Record<string, unknown>>();
      for (const row of updatedOrders.values()) {
        const subscription = row.mode === 'subscription' ? await findSubscriptionForOrder(trx, row.id) : undefined;
        views.set(row.id, toOrderDto(row, invoices.get(row.id), subscription));
      }
      const drafts = hostMessages.splice(0).map((m) => (m.type === 'order.updated' ? { ...m, data: views.get(m.coalesceKey.slice('order:'.length)) ?? null } : m));
      updatedOrders.clear();
      await writeHostMessages(trx, drafts);
    },
  };
}

/** A credit movement: buffered by a batch (applied at its flush, in order), else applied at once. */
export async function moveCredits(trx: Trx, entry: CreditDelta, unit: OrderUnitOfWork | undefined): Promise<void> {
  if (unit) unit.recordCreditDelta(entry);
  else await applyCreditDelta(trx, entry);
}
