import { useInfiniteQuery } from '@tanstack/react-query';
import { useEffect, useState, type FormEvent } from 'react';
import { OrderStatusBadge } from '../components/OrderStatusBadge.js';
import { Badge, Empty, ErrorBox, PageHeader, Spinner, Time, Pager } from '../components/ui.js';
import { money } from '../lib/format.js';
import { ORDER_STATUSES, ORDER_STATUS_META, type OrderStatus } from '../lib/status.js';
import { Link, setParams } from '../router.js';
import { trpc } from '../trpc.js';

/** The API refuses longer searches; the input stops here too. */
const SEARCH_MAX_LENGTH = 200;

/** An order's open incidents: Stripe events about it that failed, died or found no order. */
export function IncidentBadge({ states }: { states: string[] }) {
  if (states.length === 0) return null;
  const dead = states.includes('dead');
  return (
    <Badge tone={dead ? 'bad' : 'warn'} title="Stripe events about this order need attention">
      {states.map((st) => (st === 'dead' ? 'dead letter' : `${st} event`)).join(', ')}
    </Badge>
  );
}

const isStatus = (s: string | null): s is OrderStatus => s !== null && (ORDER_STATUSES as string[]).includes(s);

export function OrdersPage({ params }: { params: URLSearchParams }) {
  const statusParam = params.get('status');
  const status = isStatus(statusParam) ? statusParam : undefined;
  const stuckRaw = params.get('stuck');
  const stuck = stuckRaw !== null && /^\d+$/.test(stuckRaw) ? Number(stuckRaw) : undefined;
  const search = params.get('q') ?? '';
  const missingInvoice = params.get('noinvoice') === '1';
  const incident = params.get('incident') === '1';

  const [draft, setDraft] = useState({ status: status ?? '', stuck: stuck?.toString() ?? '', q: search, noinvoice: missingInvoice, incident });
  useEffect(
    () => setDraft({ status: status ?? '', stuck: stuck?.toString() ?? '', q: search, noinvoice: missingInvoice, incident }),
    [status, stuck, search, missingInvoice, incident],
  );

  const orders = useInfiniteQuery({
    ...trpc.admin.orders.list.infiniteQueryOptions(
      { status, stuckForMinutes: stuck, search: search.slice(0, SEARCH_MAX_LENGTH) || undefined, missingInvoice: missingInvoice || undefined, incident: incident || undefined, limit: 50 },
      { getNextPageParam: (last) => last.nextCursor ?? undefined },
    ),
    placeholderData: (prev) => prev,
  });

  const apply = (e: FormEvent) => {
    e.preventDefault();
    setParams('/orders', params, {
      status: draft.status || null,
      stuck: draft.stuck.trim() || null,
      q: draft.q.trim() || null,
      noinvoice: draft.noinvoice ? '1' : null,
      incident: draft.incident ? '1' : null,
    });
  };
  const filtered = Boolean(status || stuck !== undefined || search || missingInvoice || incident);
  const items = orders.data?.pages.flatMap((p) => p.items) ?? [];

  return (
    <div>
      <PageHeader title="Orders" />
      <form className="filters card" onSubmit={apply} role="search" aria-label="Filter orders">
        <div className="field">
          <label htmlFor="f-q">Search</label>
          <input
            id="f-q"
            type="search"
            value={draft.q}
            onChange={(e) => setDraft({ ...draft, q: e.target.value })}
            maxLength={SEARCH_MAX_LENGTH}
            placeholder="e-mail, name, order id, pi_…, cs_…, sub_…, invoice number"
            aria-describedby="f-q-hint"
          />
          <small id="f-q-hint" className="muted">
            Any part of the buyer's e-mail, an order, payment, session, customer or user id, or a product name; a whole subscription (sub_…) or invoice id (in_…), or an invoice number from the customer's PDF (up to {SEARCH_MAX_LENGTH} characters).
          </small>
        </div>
        <div className="field">
          <label htmlFor="f-status">Status</label>
          <select id="f-status" value={draft.status} onChange={(e) => setDraft({ ...draft, status: e.target.value })}>
            <option value="">Any status</option>
            {ORDER_STATUSES.map((s) => (
              <option key={s} value={s}>
                {ORDER_STATUS_META[s].label}
              </option>
            ))}
          </select>
        </div>
        <div className="field field-narrow">
          <label htmlFor="f-stuck">Stuck for more than (min)</label>
          <input id="f-stuck" type="number" min={0} inputMode="numeric" value={draft.stuck} onChange={(e) => setDraft({ ...draft, stuck: e.target.value })} placeholder="e.g. 30" aria-describedby="f-stuck-hint" />
          <small id="f-stuck-hint" className="muted">
            Processing, requires action or in review, with no change for this long.
          </small>
        </div>
        <div className="field field-narrow">
          <label htmlFor="f-noinvoice">
            <input id="f-noinvoice" type="checkbox" checked={draft.noinvoice} onChange={(e) => setDraft({ ...draft, noinvoice: e.target.checked })} /> Paid, invoice missing
          </label>
          <small className="muted">One-time orders whose invoice has not arrived after the configured delay.</small>
        </div>
        <div className="field field-narrow">
          <label htmlFor="f-incident">
            <input id="f-incident" type="checkbox" checked={draft.incident} onChange={(e) => setDraft({ ...draft, incident: e.target.checked })} /> With incidents
          </label>
          <small className="muted">Orders with Stripe events that failed, are dead or found no order.</small>
        </div>
        <div className="filters-actions">
          <button type="submit" className="btn btn-primary">
            Apply
          </button>
          {filtered && (
            <button type="button" className="btn" onClick={() => setParams('/orders', params, { status: null, stuck: null, q: null, noinvoice: null, incident: null })}>
              Clear
            </button>
          )}
        </div>
      </form>

      {orders.isPending ? (
        <Spinner label="Loading orders…" />
      ) : orders.isError ? (
        <ErrorBox error={orders.error} onRetry={() => void orders.refetch()} />
      ) : items.length === 0 ? (
        <Empty>{filtered ? 'No order matches these filters.' : 'No orders yet.'}</Empty>
      ) : (
        <>
          <div className="table-wrap" aria-busy={orders.isFetching}>
            <table className="table">
              <caption className="visually-hidden">Orders, newest first{filtered && !orders.isPlaceholderData ? ', filtered' : ''}</caption>
              <thead>
                <tr>
                  <th scope="col">Order</th>
                  <th scope="col">Status</th>
                  <th scope="col" className="num">Amount</th>
                  <th scope="col">User</th>
                  <th scope="col">Handler</th>
                  <th scope="col">Last change</th>
                  <th scope="col">Created</th>
                </tr>
              </thead>
              <tbody>
                {items.map((o) => (
                  <tr key={o.orderId}>
                    <td>
                      <Link to={`/orders/${o.orderId}`} className="mono" aria-label={`Order ${o.orderId}`}>
                        {o.orderId.slice(0, 8)}…
                      </Link>
                    </td>
                    <td>
                      <OrderStatusBadge status={o.status} /> <IncidentBadge states={o.incidents} />
                    </td>
                    <td className="num">{money(o.amount, o.currency)}</td>
                    <td className="truncate" title={o.userId}>
                      {o.userId}
                    </td>
                    <td>{o.handler}</td>
                    <td>
                      <Time iso={o.updatedAt} />
                    </td>
                    <td>
                      <Time iso={o.createdAt} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <Pager shown={items.length} hasMore={orders.hasNextPage} loading={orders.isFetchingNextPage} onMore={() => void orders.fetchNextPage()} />
        </>
      )}
    </div>
  );
}
