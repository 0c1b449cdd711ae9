/**
 * The console's order list: filters (status, stuck, incidents, missing invoice) and the search
 * over ids, user ids and e-mails, newest first, keyset-paginated.
 */
import { sql, type ExpressionBuilder, type RawBuilder, type SelectQueryBuilder } from 'kysely';
import type { Database, Db } from '../database.js';
import type { OrderRow } from '../tables/order.table.js';
import { cursorTime, missingInvoice, type OrderCursor } from './order.repository.js';

/**
 * Statuses in which an order is stuck when it stays too long: money under way that should have
 * settled, or a payment waiting for an admin. `pending` (a checkout the buyer may abandon; Stripe
 * expires it) and `failed` (the customer's payment failed; they may pay again) are not: nobody at
 * Settle can move them on.
 */
export const STUCK_STATUSES = ['processing', 'requires_action', 'needs_review'] as const;

/** Incidents an order can carry: Stripe events about it that failed, died or found no order. */
export const ORDER_INCIDENT_STATES = ['failed', 'dead', 'unmatched'] as const;

const incidentStates = () => sql<string[]>`(select coalesce(array_agg(distinct e.state order by e.state), '{}') from stripe_events e
  where e.order_id = orders.id and e.state in ('failed', 'dead', 'unmatched'))`;

/** `%`, `_` and `\\` match themselves in a LIKE pattern. */
function likeContains(s: string): string {
  return `%${s.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/** The texts a search looks in, each trigram-indexed (migration `20261202030000_search_per_field`). */
const SEARCH_FIELDS: Record<'user' | 'email' | 'ids', RawBuilder<string>> = {
  user: sql<string>`lower(user_id)`,
  email: sql<string>`lower(customer_email)`,
  ids: sql<string>`order_ids_text(id, checkout_session_id, payment_intent_id, stripe_customer_id)`,
};

/** The fields a term can be part of. Ids never hold a space, and their text joins them with one. */
function searchFields(s: string) {
  return s.includes(' ') ? [SEARCH_FIELDS.user, SEARCH_FIELDS.email] : [SEARCH_FIELDS.user, SEARCH_FIELDS.email, SEARCH_FIELDS.ids];
}

/**
 * The same test as `strpos(<field>, s) > 0` over `searchFields(s)`, cheaper per row for the walk,
 * which tests thousands of rows: the ids one by one instead of through their joined text. Their
 * text joins them with spaces and such a term has none, so it is in the text exactly when it is
 * in one of them. Ids are ASCII (a uuid, Stripe's ids), so they are lowered in the C collation
 * (the same result, about twice as fast as the database's); user ids and e-mails may be
 * anything, so they keep the database's `lower`.
 */
function walkMatches(eb: ExpressionBuilder<Database, 'orders'>, s: string) {
  const has = (text: RawBuilder<string>) => eb(sql`strpos(${text}, ${s})`, '>', 0);
  const text = [has(SEARCH_FIELDS.user), has(SEARCH_FIELDS.email)];
  if (s.includes(' ')) return text;
  const asciiLower = (column: 'checkout_session_id' | 'payment_intent_id' | 'stripe_customer_id') => sql<string>`lower(${sql.ref(column)} collate "C")`;
  return [...text, has(sql<string>`id::text`), has(asciiLower('checkout_session_id')), has(asciiLower('payment_intent_id')), has(asciiLower('stripe_customer_id'))];
}

/**
 * Rows a search walks newest first before it gives up and asks the trigram indexes. A fragment
 * in at least `limit / SEARCH_SCAN_ROWS` of the orders (about 1% for a page of 50) is answered
 * by the walk, which stops at the page's last match; a rarer one by the indexes, whose cost
 * grows with the number of matches.
 */
export const SEARCH_SCAN_ROWS = 5_000;

/** A run of letters and digits this long looks like part of an id or e-mail: few orders share it. */
const RARE_RUN = 8;

/**
 * The part of a search term a trigram index is asked for, which the exact test (`strpos`) then
 * checks. `null`: the whole term.
 * - The last `RARE_RUN` characters of its longest alphanumeric run, if that run is long. Every
 *   Stripe id starts with `pi_`, `cs_`, `cus_`, and random ids share each hex trigram with a few
 *   percent of orders, so asking for every trigram of a full id reads long posting lists; a few
 *   trigrams of the random part find a handful of candidates.
 * - Else, for user ids and e-mails (`field: 'text'`), the number that ends a term after a word
 *   (`user_4321`, `order-1234`): the word's trigrams (`use`, `ser`) are in nearly every user id,
 *   the number's in few. A number of one or two digits has no trigram of its own: it is asked
 *   for with the separator before it (`_50`, the trigrams of a word starting with 50). The ids
 *   index is asked for the whole term: letters other than hex are rare in ids, while a number's
 *   trigrams are in every few dozen.
 */
export function searchCore(term: string, field: 'ids' | 'text' = 'ids'): string | null {
  const runs = term.match(/[a-z0-9]+/g) ?? [];
  const longest = runs.reduce((a, b) => (b.length > a.length ? b : a), '');
  if (longest.length >= RARE_RUN) return longest.slice(-RARE_RUN);
  const last = runs.at(-1) ?? '';
  if (field !== 'text' || runs.length < 2 || !/^[0-9]+$/.test(last) || !term.endsWith(last)) return null;
  return last.length >= 3 ? last : term.slice(term.length - last.length - 1);
}

/** Whether few orders are expected to hold the term (an id, a number of three or more digits): no walk first. */
function expectedRare(term: string): boolean {
  const core = searchCore(term, 'text');
  return core !== null && /^[a-z0-9]{3,}$/.test(core);
}

export type AdminOrderFilter = {
  status?: string | undefined;
  /** Unsettled orders whose last change is older than this. */
  stuckForMinutes?: number | undefined;
  /**
   * Any part (case-insensitive) of one of: the order id, Checkout Session, PaymentIntent, customer,
   * user id, the buyer's e-mail. A term spanning two of them ("user_1 bob@") matches nothing.
   */
  search?: string | undefined;
  /** Products whose name matched the search (the catalogue lives outside the database). */
  searchProductIds?: string[] | undefined;
  /** Orders the search names through another object (found by `listOrdersForAdmin` itself). */
  searchOrderIds?: string[] | undefined;
  /**
   * `true`: only orders with Stripe events in an incident state (failed, dead, unmatched);
   * `duplicate_payment`: only orders with a duplicate payment recorded beside them.
   */
  incident?: boolean | 'duplicate_payment' | undefined;
  /** Paid one-time orders still without their invoice this long after payment. */
  missingInvoiceAfterMinutes?: number | undefined;
  cursor?: OrderCursor | undefined;
  limit: number;
  /** Rows the newest-first walk of a search reads (tests make it small). */
  searchScanRows?: number | undefined;
};

type AdminOrderRow = OrderRow & { cursor_at: string; incident_states: string[] };

/**
 * The console's order list: newest first, keyset-paginated on (created_at, id).
 *
 * A search is answered in one of two ways, both exact:
 * - a term that is not id-like (`searchCore`): walk the newest `searchScanRows` orders (after the
 *   cursor, with the status filter) and keep the matches. If `limit` of them are in there, no
 *   older order can come before them, so they are the page. Otherwise, or when other filters
 *   make a walk costly, the next way.
 * - every match through the trigram indexes, sorted by date. Its cost grows with the number of
 *   matches: an id-like term many orders share (a company's mail domain) is the slow case.
 * With the stuck, incident or missing-invoice filters, one query, and the planner chooses.
 */
export async function listOrdersForAdmin(db: Db, f: AdminOrderFilter): Promise<AdminOrderRow[]> {
  const s = f.search?.trim().toLowerCase();
  if (!s) return listOrdersForAdminInOneQuery(db, f, undefined);
  // A plan's renewal, invoice or subscription, or a duplicate payment, names its order elsewhere.
  const named = await ordersOfStripeObject(db, f.search!.trim());
  if (named.length > 0) f = { ...f, searchOrderIds: [...new Set([...(f.searchOrderIds ?? []), ...named])] };
  // These filters cannot be walked cheaply; with them the planner chooses, as it always has.
  if (f.stuckForMinutes !== undefined || f.incident || f.missingInvoiceAfterMinutes !== undefined) return listOrdersForAdminInOneQuery(db, f, s);
  // An id-like term is expected in few orders: a walk would read its whole cap for nothing.
  // A product's name may match most orders; the walk serves it quickly.
  if (!expectedRare(s) || f.searchProductIds?.length) {
    const newest = await walkNewestForSearch(db, f, s);
    if (newest.length >= f.limit) return newest;
  }
  return listOrdersForAdminByIndex(db, f, s);
}

/** A full Stripe id the orders do not hold: a subscription, an invoice, or a PaymentIntent that paid one (or paid twice). */
const STRIPE_OBJECT_ID = /^(sub|in|pi)_[A-Za-z0-9]+$/;
/** An invoice number as Stripe writes it: the account's prefix (3–12 letters or digits), a dash, a sequence number. */
const INVOICE_NUMBER = /^[A-Za-z0-9]{3,12}-\d{4,}$/;

/**
 * The orders behind a subscription, an invoice (by its id or its number), a plan's invoice payment
 * or a duplicate payment, named by its full id or number (case as Stripe writes it; every lookup is by a key or an index). Answered
 * apart, as a list of ids: joined into the search, it would keep the planner off the indexes.
 */
async function ordersOfStripeObject(db: Db, term: string): Promise<string[]> {
  if (INVOICE_NUMBER.test(term)) {
    // Stripe's prefixes are upper case; a number read out over the phone may not be.
    const number = term.toUpperCase();
    const { rows } = await sql<{ order_id: string | null }>`
      select order_id from invoices where number = ${number}
      union all select s.order_id from subscription_payments p join subscriptions s on s.id = p.subscription_id where p.number = ${number}`.execute(db);
    return rows.flatMap((r) => (r.order_id ? [r.order_id] : []));
  }
  if (!STRIPE_OBJECT_ID.test(term)) return [];
  const { rows } = await sql<{ order_id: string | null }>`
    select order_id from subscriptions where id = ${term}
    union all select s.order_id from subscription_payments p join subscriptions s on s.id = p.subscription_id where p.invoice_id = ${term}
    union all select s.order_id from subscription_payments p join subscriptions s on s.id = p.subscription_id where p.payment_intent_id = ${term}
    union all select order_id from invoices where id = ${term}
    union all select order_id from duplicate_payments where payment_intent_id = ${term}`.execute(db);
  return rows.flatMap((r) => (r.order_id ? [r.order_id] : []));
}

/** `s` in one of the fields, or the order's product matched, or one of `orderIds`: exact, and shaped for the indexes. */
function searchMatch(s: string, productIds: string[] | undefined, orderIds?: string[]) {
  return (eb: ExpressionBuilder<Database, 'orders'>) =>
    eb.or([
      ...(orderIds?.length ? [eb('id', 'in', orderIds)] : []),
      ...searchFields(s).map((field) => {
        const core = searchCore(s, field === SEARCH_FIELDS.ids ? 'ids' : 'text');
        return core === null
          ? eb(field, 'like', likeContains(s))
          : // strpos, not LIKE: the planner would hand a LIKE to the index with all its trigrams.
            eb.and([eb(field, 'like', likeContains(core)), eb(sql`strpos(${field}, ${s})`, '>', 0)]);
      }),
      ...(productIds?.length ? [eb('product_id', 'in', productIds)] : []),
    ]);
}

/** The newest `searchScanRows` orders after the cursor (with the status filter), those matching `s`. */
async function walkNewestForSearch(db: Db, f: AdminOrderFilter, s: string): Promise<AdminOrderRow[]> {
  let newest = db.selectFrom('orders').selectAll();
  if (f.status) newest = newest.where('status', '=', f.status);
  if (f.cursor) newest = newest.where(sql<boolean>`(created_at, id) < (${f.cursor.createdAt}::timestamptz, ${f.cursor.id}::uuid)`);
  const scanned = newest.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(f.searchScanRows ?? SEARCH_SCAN_ROWS);
  return db
    .selectFrom(scanned.as('orders'))
    .selectAll()
    .select(cursorTime('created_at').as('cursor_at'))
    .select(incidentStates().as('incident_states'))
    .where((eb) =>
      eb.or([
        ...walkMatches(eb, s),
        ...(f.searchProductIds?.length ? [eb('product_id', 'in', f.searchProductIds)] : []),
        ...(f.searchOrderIds?.length ? [eb('id', 'in', f.searchOrderIds)] : []),
      ]),
    )
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .limit(f.limit)
    .execute();
}

/**
 * Every match through the trigram indexes, then the newest. Materialized: otherwise the planner,
 * guessing from statistics that thousands match, walks the date index instead and reads the
 * whole table for a term only 20 orders hold (seconds at a million orders). The walk above has
 * already answered the terms that are that common.
 */
async function listOrdersForAdminByIndex(db: Db, f: AdminOrderFilter, s: string): Promise<AdminOrderRow[]> {
  const matches = adminFilters(db.selectFrom('orders').selectAll(), f).where(searchMatch(s, f.searchProductIds, f.searchOrderIds));
  return db
    .with((cte) => cte('matches').materialized(), () => matches)
    .selectFrom('matches as orders')
    .selectAll()
    .select(cursorTime('created_at').as('cursor_at'))
    .select(incidentStates().as('incident_states'))
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .limit(f.limit)
    .execute();
}

/** The list in one query: without a search, or with filters a walk cannot serve. */
async function listOrdersForAdminInOneQuery(db: Db, f: AdminOrderFilter, s: string | undefined): Promise<AdminOrderRow[]> {
  let q = adminFilters(db.selectFrom('orders').selectAll().select(cursorTime('created_at').as('cursor_at')).select(incidentStates().as('incident_states')), f);
  if (s) q = q.where(searchMatch(s, f.searchProductIds, f.searchOrderIds));
  return q.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(f.limit).execute();
}

/** The list's filters other than the search, and the cursor. */
function adminFilters<O>(q: SelectQueryBuilder<Database, 'orders', O>, f: AdminOrderFilter): SelectQueryBuilder<Database, 'orders', O> {
  if (f.status) q = q.where('status', '=', f.status);
  if (f.stuckForMinutes !== undefined) {
    q = q
      .where('status', 'in', f.status ? [f.status] : [...STUCK_STATUSES])
      .where('updated_at', '<', sql<Date>`now() - ${`${f.stuckForMinutes} minutes`}::interval`);
  }
  if (f.incident === true) {
    q = q.where(sql<boolean>`exists (select 1 from stripe_events e where e.order_id = orders.id and e.state in ('failed', 'dead', 'unmatched'))`);
  }
  if (f.missingInvoiceAfterMinutes !== undefined) q = q.where(missingInvoice(f.missingInvoiceAfterMinutes));
  if (f.incident === 'duplicate_payment') q = q.where(sql<boolean>`exists (select 1 from duplicate_payments d where d.order_id = orders.id)`);
  if (f.cursor) q = q.where(sql<boolean>`(created_at, id) < (${f.cursor.createdAt}::timestamptz, ${f.cursor.id}::uuid)`);
  return q;
}
