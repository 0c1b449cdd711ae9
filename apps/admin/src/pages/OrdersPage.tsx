import { useInfiniteQuery } from '@tanstack/react-query';
import { useEffect, useState, type FormEvent } from 'react';
import { OrderStatusBadge } from '../components/OrderStatusBadge.js';
import { Empty, ErrorBox, PageHeader, Spinner, Time, Pager } from '../components/ui.js';
import { money } from '../lib/format.js';
import { ORDER_STATUSES, ORDER_STATUS_META, type OrderStatus } from '../lib/status.js';
import { Link, setParams } from '../router.js';
import { trpc } from '../trpc.js';

const isStatus = (s: string | null): s is OrderStatus => s !== null && (ORDER_STATUSES as string[]).includes(s);

export function OrdersPage({ params }: { params: URLSearchParams }) {
  const statusParam = params.get('status');
  const status = isStatus(statusParam) ? statusParam : undefined;
  const stuckRaw = params.get('stuck');
  const stuck = stuckRaw !== null && /^\d+$/.test(stuckRaw) ? Number(stuckRaw) : undefined;
  const search = params.get('q') ?? '';
  const missingInvoice = params.get('noinvoice') === '1';
  const duplicatePayment = params.get('incident') === 'duplicate_payment';

  const [draft, setDraft] = useState({ status: status ?? '', stuck: stuck?.toString() ?? '', q: search, noinvoice: missingInvoice, duplicate: duplicatePayment });
  useEffect(
    () => setDraft({ status: status ?? '', stuck: stuck?.toString() ?? '', q: search, noinvoice: missingInvoice, duplicate: duplicatePayment }),
    [status, stuck, search, missingInvoice, duplicatePayment],
  );

  const orders = useInfiniteQuery({
    ...trpc.admin.orders.list.infiniteQueryOptions(
      { status, stuckForMinutes: stuck, search: search || undefined, missingInvoice: missingInvoice || undefined, incident: duplicatePayment ? 'duplicate_payment' : undefined, limit: 50 },
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
      incident: draft.duplicate ? 'duplicate_payment' : null,
    });
  };
  const filtered = Boolean(status || stuck !== undefined || search || missingInvoice || duplicatePayment);
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
            placeholder="order id, pi_…, cs_…, cus_…, user id, e-mail"
            aria-describedby="f-q-hint"
          />
          <small id="f-q-hint" className="muted">
            Exact match on order id, payment intent, checkout session, Stripe customer, user id or the buyer's e-mail.
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
            Unsettled orders with no change for this long.
          </small>
        </div>
        <div className="field field-narrow">
          <label htmlFor="f-noinvoice">
            <input id="f-noinvoice" type="checkbox" checked={draft.noinvoice} onChange={(e) => setDraft({ ...draft, noinvoice: e.target.checked })} /> Paid, invoice missing
          </label>
          <small className="muted">One-time orders whose invoice has not arrived after the configured delay.</small>
        </div>
        <div className="field field-narrow">
          <label htmlFor="f-duplicate">
            <input id="f-duplicate" type="checkbox" checked={draft.duplicate} onChange={(e) => setDraft({ ...draft, duplicate: e.target.checked })} /> Paid twice
          </label>
          <small className="muted">Orders the customer paid more than once (a duplicate payment to refund).</small>
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
              <caption className="visually-hidden">Orders, newest first{filtered ? ', filtered' : ''}</caption>
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
                      <OrderStatusBadge status={o.status} />
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
