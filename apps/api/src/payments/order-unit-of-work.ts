import {
  applyCreditDelta,
  applyCreditDeltas,
  entitlementsUpdatedDraft,
  findInvoicesForOrders,
  findSubscriptionsForOrders,
  insertGrantOnce,
  insertGrantsOnce,
  insertTransitions,
  isOrderId,
  listRefundsForOrder,
  listRefundsForOrders,
  lockEntitlements,
  lockGrant,
  lockGrantsOfOrders,
  lockOrdersByRefs,
  markGrantRestored,
  markGrantRevoked,
  recordCustomerEmails,
  updateGrantRevocations,
  updateOrder,
  updateOrderRows,
  upsertInvoices,
  upsertRefund,
  writeHostMessages,
  type CreditDelta,
  type GrantRow,
  type HostMessageDraft,
  type NewGrant,
  type NewInvoice,
  type NewOrderTransition,
  type NewRefund,
  type OrderKeys,
  type OrderLookup,
  type OrderRow,
  type OrderUpdate,
  type RefundRow,
  type Trx,
} from '@settle/db';
import { mapStripeEvent, type StripeEventLike } from '@settle/payments-core';
import { toOrderDto } from './order.mapper.js';
import { isThinNotification } from './stripe-event-resolver.js';

type Key = `id:${string}` | `cs:${string}` | `pi:${string}`;
type GrantKind = GrantRow['kind'];

/**
 * How a decision reads and writes its order's row, grants and refunds: pooled by a batch
 * (`OrderUnitOfWork.writesFor`) or at once (`DIRECT_WRITES`). Either way the caller holds the
 * order's row lock, under which alone these are written.
 */
export type OrderWrites = {
  /** The row with `patch` applied (the database's row when written at once). */
  updateOrder(trx: Trx, row: OrderRow, patch: OrderUpdate): Promise<OrderRow>;
  /** The grant when new, undefined when the order has one of its kind (see `insertGrantOnce`). */
  insertGrantOnce(trx: Trx, grant: NewGrant): Promise<GrantRow | undefined>;
  lockGrant(trx: Trx, orderId: string, kind: GrantKind): Promise<GrantRow | undefined>;
  markGrantRevoked(trx: Trx, grant: GrantRow, creditsRevoked: number, fully: boolean): Promise<void>;
  markGrantRestored(trx: Trx, grant: GrantRow, creditsRevoked: number): Promise<void>;
  listRefunds(trx: Trx, orderId: string): Promise<RefundRow[]>;
  upsertRefund(trx: Trx, refund: NewRefund): Promise<void>;
};

export const DIRECT_WRITES: OrderWrites = {
  updateOrder: (trx, row, patch) => updateOrder(trx, row.id, patch),
  insertGrantOnce,
  lockGrant,
  markGrantRevoked: (trx, grant, creditsRevoked, fully) => markGrantRevoked(trx, grant.id, creditsRevoked, fully),
  markGrantRestored: (trx, grant, creditsRevoked) => markGrantRestored(trx, grant.id, creditsRevoked),
  listRefunds: listRefundsForOrder,
  upsertRefund: async (trx, refund) => void (await upsertRefund(trx, refund)),
};

/**
 * Whether the batch follows everything written to an order, so its row, grants and refunds can
 * be answered from memory and written at `flush`: a one-time order without a shadow copy. A
 * subscription's follow-ups and a shadow copy read and write the order out of the batch's sight.
 */
const isFollowed = (row: OrderRow) => row.mode === 'payment' && row.shadow_state === null;

/**
 * A batch's shared work around the one order use case (`applyOrderCommand`): the orders its
 * events name, read and locked together up front, with their grants and refunds read together
 * when first needed; and what its decisions write (order rows, grants, credit movements,
 * invoices, audit rows, e-mails, host messages), written with one statement of each kind before
 * the batch settles its events. Decisions stay where they are; only the reads and writes are pooled.
 *
 * Invariants: every row held is locked by the batch's transaction and is the row as that
 * transaction last wrote it, buffered writes included (a command that changes a row in a way the
 * cache cannot follow, e.g. a subscription's or a shadow copy's, makes the row be forgotten and
 * read again); buffered order rows and grants are written (`writePending`) before the database
 * is asked anything they could change; everything buffered is written before the transaction
 * commits (`flush`), and a write that fails there fails the batch, which is then run again
 * event by event without a unit of work. A miss is never an answer: the database is asked.
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
  /**
   * Where a decision on `row` reads and writes the order, its grants and refunds: from memory and
   * written at `flush` when the batch follows the order (see `isFollowed`), else at once.
   */
  writesFor(row: OrderRow): OrderWrites;
  /**
   * Write the buffered order rows and grants now: call before the database is asked about
   * orders or grants in a way the batch does not answer (a lookup the batch missed, an order it
   * does not follow, a subscription command). A grant the batch counted as new that the database
   * already holds is a broken invariant: it throws, and the batch is run again event by event.
   */
  writePending(trx: Trx): Promise<void>;
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
  // Buffered order rows (the row to write), grants (by order and kind) and refund lists.
  const pendingRows = new Map<string, OrderRow>();
  const grants = new Map<string, Map<GrantKind, GrantRow>>();
  const newGrants = new Map<string, NewGrant>();
  const changedGrants = new Map<number, GrantRow>();
  const refunds = new Map<string, RefundRow[]>();
  let placeholderId = 0;
  const grantKey = (orderId: string, kind: GrantKind) => `${orderId}:${kind}`;

  /** The grants of a held order, read (and locked) for every held order not read yet in one statement. */
  const grantsOf = async (trx: Trx, orderId: string): Promise<Map<GrantKind, GrantRow>> => {
    const known = grants.get(orderId);
    if (known) return known;
    const ids = [orderId, ...[...rows.values()].filter((r) => r.id !== orderId && !grants.has(r.id) && isFollowed(r)).map((r) => r.id)];
    for (const id of ids) grants.set(id, new Map());
    for (const g of await lockGrantsOfOrders(trx, ids)) grants.get(g.order_id)!.set(g.kind, g);
    return grants.get(orderId)!;
  };
  const changeGrant = (next: GrantRow) => {
    grants.get(next.order_id)?.set(next.kind, next);
    const key = grantKey(next.order_id, next.kind);
    const fresh = newGrants.get(key);
    if (fresh) newGrants.set(key, { ...fresh, credits_revoked: next.credits_revoked, revoked_at: next.revoked_at });
    else if (next.id < 0) throw new Error(`grant ${key} changed after the batch wrote it, through a stale copy`);
    else changedGrants.set(next.id, next);
  };

  const pooled: OrderWrites = {
    async updateOrder(_trx, row, patch) {
      const next = { ...row, ...patch, updated_at: new Date() } as OrderRow;
      pendingRows.set(row.id, next);
      return next;
    },
    async insertGrantOnce(trx, grant) {
      const held = await grantsOf(trx, grant.order_id);
      if (held.has(grant.kind)) return undefined;
      const row: GrantRow = {
        id: --placeholderId,
        order_id: grant.order_id,
        user_id: grant.user_id,
        kind: grant.kind,
        credits: grant.credits ?? 0,
        plan: grant.plan ?? null,
        credits_revoked: grant.credits_revoked ?? 0,
        event_id: grant.event_id ?? null,
        granted_at: new Date(),
        revoked_at: grant.revoked_at ?? null,
      };
      held.set(grant.kind, row);
      newGrants.set(grantKey(grant.order_id, grant.kind), grant);
      return row;
    },
    async lockGrant(trx, orderId, kind) {
      return (await grantsOf(trx, orderId)).get(kind);
    },
    async markGrantRevoked(_trx, grant, creditsRevoked, fully) {
      changeGrant({ ...grant, credits_revoked: creditsRevoked, revoked_at: fully ? new Date() : grant.revoked_at });
    },
    async markGrantRestored(_trx, grant, creditsRevoked) {
      changeGrant({ ...grant, credits_revoked: creditsRevoked, revoked_at: null });
    },
    async listRefunds(trx, orderId) {
      const known = refunds.get(orderId);
      if (known) return known;
      const ids = [orderId, ...[...rows.keys()].filter((id) => id !== orderId && !refunds.has(id))];
      for (const [id, list] of await listRefundsForOrders(trx, ids)) refunds.set(id, list);
      return refunds.get(orderId) ?? [];
    },
    async upsertRefund(trx, refund) {
      await upsertRefund(trx, refund);
      // The database merges a refund's record (see `upsertRefund`): read the order's again when next asked.
      refunds.delete(refund.order_id);
    },
  };

  const writePending = async (trx: Trx) => {
    // A buyer's e-mail for an order written here goes with its row.
    for (const row of await updateOrderRows(trx, [...pendingRows.values()], emails)) {
      emails.delete(row.id);
      // The buyer's e-mail may still be buffered (`recordCustomerEmail`): the held row keeps it.
      const held = rows.get(row.id);
      if (held) rows.set(row.id, { ...row, customer_email: held.customer_email ?? row.customer_email ?? null });
      if (updatedOrders.has(row.id)) updatedOrders.set(row.id, row);
    }
    pendingRows.clear();
    const fresh = [...newGrants.values()];
    newGrants.clear();
    const inserted = await insertGrantsOnce(trx, fresh);
    if (inserted.length !== fresh.length) throw new Error(`${fresh.length - inserted.length} grant(s) a batch took for new already existed`);
    for (const g of inserted) grants.get(g.order_id)?.set(g.kind, g);
    await updateGrantRevocations(trx, [...changedGrants.values()]);
    changedGrants.clear();
  };

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
      grants.delete(orderId);
      refunds.delete(orderId);
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
    writesFor(row) {
      return isFollowed(row) && rows.has(row.id) ? pooled : DIRECT_WRITES;
    },
    writePending,
    async flush(trx) {
      await writePending(trx);
      // Invoices and balances first: the host messages below read them. The entitlement rows
      // both need are locked once, in user order.
      await upsertInvoices(trx, invoiceUpserts.splice(0));
      const entitlements = await lockEntitlements(trx, [...creditDeltas, ...hostMessages].map((m) => m.userId));
      await applyCreditDeltas(trx, creditDeltas.splice(0), entitlements);
      await insertTransitions(trx, transitions.splice(0));
      await recordCustomerEmails(trx, [...emails].map(([orderId, email]) => ({ orderId, email })));
      emails.clear();
      // Each changed order as the API shows it, its invoice read for all of them at once.
      const invoices = await findInvoicesForOrders(trx, [...updatedOrders.keys()]);
      const subscriptions = await findSubscriptionsForOrders(trx, [...updatedOrders.values()].filter((row) => row.mode === 'subscription').map((row) => row.id));
      const views = new Map<string, Record<string, unknown>>();
      for (const row of updatedOrders.values()) views.set(row.id, toOrderDto(row, invoices.get(row.id), subscriptions.get(row.id)));
      const drafts = hostMessages.splice(0).map((m) => (m.type === 'order.updated' ? { ...m, data: views.get(m.coalesceKey.slice('order:'.length)) ?? null } : m));
      updatedOrders.clear();
      await writeHostMessages(trx, drafts, entitlements);
    },
  };
}

/** A credit movement: buffered by a batch (applied at its flush, in order), else applied at once. */
export async function moveCredits(trx: Trx, entry: CreditDelta, unit: OrderUnitOfWork | undefined): Promise<void> {
  if (unit) unit.recordCreditDelta(entry);
  else await applyCreditDelta(trx, entry);
}
