import { sql, type ExpressionBuilder, type RawBuilder, type SelectQueryBuilder } from 'kysely';
import type { Database, Db, Trx } from '../database.js';
import type { NewOrder, NewOrderTransition, OrderRow, OrderUpdate } from '../tables/order.table.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Whether a string can be an order id; metadata from outside may hold anything. */
export function isOrderId(value: string | null | undefined): value is string {
  return typeof value === 'string' && UUID.test(value);
}

export async function insertOrder(db: Db | Trx, order: NewOrder): Promise<OrderRow> {
  return db.insertInto('orders').values(order).returningAll().executeTakeFirstOrThrow();
}

export async function findOrder(db: Db | Trx, orderId: string): Promise<OrderRow | undefined> {
  if (!isOrderId(orderId)) return undefined;
  return db.selectFrom('orders').selectAll().where('id', '=', orderId).executeTakeFirst();
}

export type OrderLookup = { orderId: string | null; checkoutSessionId: string | null; paymentIntentId: string | null };

/**
 * Find and lock the order an event refers to: by Settle's order id from metadata, else by the
 * Checkout Session, else by the PaymentIntent. The row lock serialises every event of one order.
 */
export async function lockOrderByRef(trx: Trx, ref: OrderLookup): Promise<OrderRow | undefined> {
  const attempts: [column: 'id' | 'checkout_session_id' | 'payment_intent_id', value: string | null][] = [
    ['id', isOrderId(ref.orderId) ? ref.orderId : null],
    ['checkout_session_id', ref.checkoutSessionId],
    ['payment_intent_id', ref.paymentIntentId],
  ];
  for (const [column, value] of attempts) {
    if (!value) continue;
    const row = await trx.selectFrom('orders').selectAll().where(column, '=', value).forUpdate().executeTakeFirst();
    if (row) return row;
  }
  return undefined;
}

export type OrderRefs = { ids: string[]; checkoutSessionIds: string[]; paymentIntentIds: string[] };
export type OrderKeys = Pick<OrderRow, 'id' | 'checkout_session_id' | 'payment_intent_id'>;

/**
 * Lock every order a batch of events may name, in one statement: by id, Checkout Session or
 * PaymentIntent, in id order. Rows another transaction holds are not waited for: they come back
 * apart (`held`, unlocked, keys only), so their events can be left for a later claim.
 */
export async function lockOrdersByRefs(trx: Trx, refs: OrderRefs): Promise<{ locked: OrderRow[]; held: OrderKeys[] }> {
  const ids = refs.ids.filter(isOrderId);
  if (ids.length + refs.checkoutSessionIds.length + refs.paymentIntentIds.length === 0) return { locked: [], held: [] };
  const named = (eb: ExpressionBuilder<Database, 'orders'>) =>
    eb.or([
      ...(ids.length ? [eb('id', 'in', ids)] : []),
      ...(refs.checkoutSessionIds.length ? [eb('checkout_session_id', 'in', refs.checkoutSessionIds)] : []),
      ...(refs.paymentIntentIds.length ? [eb('payment_intent_id', 'in', refs.paymentIntentIds)] : []),
    ]);
  const locked = await trx.selectFrom('orders').selectAll().where(named).orderBy('id').forUpdate().skipLocked().execute();
  const mine = locked.map((r) => r.id);
  let others = trx.selectFrom('orders').select(['id', 'checkout_session_id', 'payment_intent_id']).where(named);
  if (mine.length) others = others.where('id', 'not in', mine);
  return { locked, held: await others.execute() };
}

export async function lockOrder(trx: Trx, orderId: string): Promise<OrderRow | undefined> {
  if (!isOrderId(orderId)) return undefined;
  return trx.selectFrom('orders').selectAll().where('id', '=', orderId).forUpdate().executeTakeFirst();
}

export async function updateOrder(trx: Trx, orderId: string, patch: OrderUpdate): Promise<OrderRow> {
  return trx
    .updateTable('orders')
    .set({ ...patch, updated_at: sql`now()` })
    .where('id', '=', orderId)
    .returningAll()
    .executeTakeFirstOrThrow();
}

/**
 * `updateOrder` for many orders in one statement: each row's decided columns (status, Stripe
 * references, times, refunded amount, dispute, review and failure) are written as given, and
 * `updated_at` is the transaction's. `emails`: a buyer's e-mail for some of these orders,
 * recorded where the order has none yet (as `recordCustomerEmails`). Returns the rows as
 * written, in no particular order.
 */
export async function updateOrderRows(trx: Trx, rows: readonly OrderRow[], emails?: ReadonlyMap<string, string>): Promise<OrderRow[]> {
  if (rows.length === 0) return [];
  const values = rows.map((r) => sql`(
    ${r.id}::uuid, ${r.status}::text, ${r.checkout_session_id}::text, ${r.payment_intent_id}::text,
    ${r.status_stripe_at}::timestamptz, ${r.paid_at}::timestamptz, ${r.amount_refunded}::bigint, ${r.dispute_id}::text,
    ${r.dispute_status}::text, ${r.status_before_dispute}::text, ${r.review_reason}::text, ${r.failure_reason}::text,
    ${emails?.get(r.id)?.slice(0, 320) ?? null}::text)`);
  const written = await sql<OrderRow>`
    update orders as o set
      status = v.status, checkout_session_id = v.checkout_session_id, payment_intent_id = v.payment_intent_id,
      status_stripe_at = v.status_stripe_at, paid_at = v.paid_at, amount_refunded = v.amount_refunded, dispute_id = v.dispute_id,
      dispute_status = v.dispute_status, status_before_dispute = v.status_before_dispute, review_reason = v.review_reason,
      failure_reason = v.failure_reason, customer_email = coalesce(o.customer_email, v.customer_email), updated_at = now()
    from (values ${sql.join(values)}) as v(id, status, checkout_session_id, payment_intent_id, status_stripe_at, paid_at,
      amount_refunded, dispute_id, dispute_status, status_before_dispute, review_reason, failure_reason, customer_email)
    where o.id = v.id
    returning o.*`.execute(trx);
  return written.rows;
}

export async function insertTransition(trx: Trx, row: NewOrderTransition): Promise<void> {
  await trx.insertInto('order_transitions').values(row).execute();
}

/** `insertTransition` for many rows in one statement; ids follow the order given. */
export async function insertTransitions(trx: Trx, rows: NewOrderTransition[]): Promise<void> {
  if (rows.length === 0) return;
  await trx.insertInto('order_transitions').values(rows).execute();
}

export async function listTransitions(db: Db | Trx, orderId: string) {
  return db.selectFrom('order_transitions').selectAll().where('order_id', '=', orderId).orderBy('id').execute();
}

/** A keyset position: the last row's time (ISO-8601 with microseconds, as stored) and id. */
export type OrderCursor = { createdAt: string; id: string };

/** A row's time as the database keeps it (microseconds), for cursors: a JS Date would cut it to ms. */
export const cursorTime = (column: string) =>
  sql<string>`to_char(${sql.ref(column)} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;

/**
 * A user's unpaid orders that could still be paid: `pending` and younger than a Checkout
 * Session lives (24 h). Uses the (user_id, created_at, id) index.
 */
export async function countOpenOrdersForUser(db: Db, userId: string): Promise<number> {
  const r = await db
    .selectFrom('orders')
    .select(sql<number>`count(*)::int`.as('n'))
    .where('user_id', '=', userId)
    .where('created_at', '>', sql<Date>`now() - interval '24 hours'`)
    .where('status', '=', 'pending')
    .executeTakeFirstOrThrow();
  return Number(r.n);
}

/** A user's orders, newest first, by keyset pagination on (created_at, id). */
export async function listOrdersForUser(
  db: Db,
  userId: string,
  opts: { limit: number; cursor?: OrderCursor | undefined },
): Promise<(OrderRow & { cursor_at: string })[]> {
  let q = db.selectFrom('orders').selectAll().select(cursorTime('created_at').as('cursor_at')).where('user_id', '=', userId);
  if (opts.cursor) q = q.where(sql<boolean>`(created_at, id) < (${opts.cursor.createdAt}::timestamptz, ${opts.cursor.id}::uuid)`);
  return q.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(opts.limit).execute();
}

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

/** `s` in one of the fields, or the order's product matched: exact, and shaped for the indexes. */
function searchMatch(s: string, productIds: string[] | undefined) {
  return (eb: ExpressionBuilder<Database, 'orders'>) =>
    eb.or([
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
  const matches = adminFilters(db.selectFrom('orders').selectAll(), f).where(searchMatch(s, f.searchProductIds));
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
  if (s) q = q.where(searchMatch(s, f.searchProductIds));
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

export async function countOrdersByStatus(db: Db): Promise<Record<string, number>> {
  const rows = await db.selectFrom('orders').select(['status', sql<number>`count(*)::int`.as('n')]).groupBy('status').execute();
  return Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]));
}

export type ReconcileAges = { pendingMinutes: number; processingMinutes: number; reviewMinutes: number; recheckMinutes: number };

/**
 * Claim orders that look stuck for a comparison with Stripe: `pending` past the Checkout
 * expiry, attempt states (`processing`, `requires_action`, `failed`) past an age, `needs_review`.
 * Stamping `last_reconciled_at` in the claim keeps other instances off them until the recheck
 * age passes.
 */
export async function claimOrdersToReconcile(db: Db, ages: ReconcileAges, limit: number): Promise<string[]> {
  const minutes = (n: number) => sql`now() - ${`${n} minutes`}::interval`;
  const rows = await sql<{ id: string }>`
    update orders set last_reconciled_at = now()
    where id in (
      select id from orders
      where ((status = 'pending' and created_at < ${minutes(ages.pendingMinutes)})
          or (status in ('processing', 'requires_action', 'failed') and updated_at < ${minutes(ages.processingMinutes)})
          or (status = 'needs_review' and updated_at < ${minutes(ages.reviewMinutes)}))
        and (last_reconciled_at is null or last_reconciled_at < ${minutes(ages.recheckMinutes)})
      order by updated_at
      limit ${limit}
      for update skip locked
    )
    returning id`.execute(db);
  return rows.rows.map((r) => r.id);
}

/** Paid one-time orders whose invoice has not arrived `minutes` after payment. */
function missingInvoice(minutes: number) {
  return sql<boolean>`orders.status = 'succeeded' and orders.mode = 'payment'
    and orders.paid_at < now() - ${`${minutes} minutes`}::interval
    and not exists (select 1 from invoices i where i.order_id = orders.id)`;
}

export async function countOrdersMissingInvoice(db: Db, minutes: number): Promise<number> {
  const r = await db.selectFrom('orders').select(sql<number>`count(*)::int`.as('n')).where(missingInvoice(minutes)).executeTakeFirst();
  return Number(r?.n ?? 0);
}

/** Remember the buyer's e-mail Checkout collected (first one wins). */
export async function recordCustomerEmail(trx: Trx, orderId: string, email: string): Promise<void> {
  await trx.updateTable('orders').set({ customer_email: email.slice(0, 320) }).where('id', '=', orderId).where('customer_email', 'is', null).execute();
}

/** `recordCustomerEmail` for many orders in one statement (a batch's, before its commit). */
export async function recordCustomerEmails(trx: Trx, emails: { orderId: string; email: string }[]): Promise<void> {
  if (emails.length === 0) return;
  await sql`
    update orders as o set customer_email = v.email
    from (values ${sql.join(emails.map((e) => sql`(${e.orderId}::uuid, ${e.email.slice(0, 320)})`))}) as v(id, email)
    where o.id = v.id and o.customer_email is null`.execute(trx);
}
