import { useInfiniteQuery } from '@tanstack/react-query';
import { useEffect, useState, type FormEvent } from 'react';
import { SubscriptionStatusBadge } from '../components/SubscriptionStatusBadge.js';
import { Badge, Empty, ErrorBox, PageHeader, Pager, Spinner, Time } from '../components/ui.js';
import { dateTime, money } from '../lib/format.js';
import { planWithheldReason, SUBSCRIPTION_STATUSES, subscriptionStatusMeta, type SubscriptionAccess, type SubscriptionStatus } from '../lib/status.js';
import { Link, setParams } from '../router.js';
import { trpc } from '../trpc.js';

const isStatus = (s: string | null): s is SubscriptionStatus => s !== null && (SUBSCRIPTION_STATUSES as string[]).includes(s);

export function SubscriptionsPage({ params }: { params: URLSearchParams }) {
  const statusParam = params.get('status');
  const status = isStatus(statusParam) ? statusParam : undefined;
  const userId = params.get('user') ?? '';
  const [draft, setDraft] = useState({ status: status ?? '', user: userId });
  useEffect(() => setDraft({ status: status ?? '', user: userId }), [status, userId]);

  const subs = useInfiniteQuery({
    ...trpc.admin.subscriptions.list.infiniteQueryOptions(
      { status, userId: userId || undefined, limit: 50 },
      { getNextPageParam: (last) => last.nextCursor ?? undefined },
    ),
    placeholderData: (prev) => prev,
  });
  const apply = (e: FormEvent) => {
    e.preventDefault();
    setParams('/subscriptions', params, { status: draft.status || null, user: draft.user.trim() || null });
  };
  const filtered = Boolean(status || userId);
  const items = subs.data?.pages.flatMap((p) => p.items) ?? [];

  return (
    <div>
      <PageHeader title="Subscriptions" />
      <form className="filters card" onSubmit={apply} role="search" aria-label="Filter subscriptions">
        <div className="field">
          <label htmlFor="s-status">Status</label>
          <select id="s-status" value={draft.status} onChange={(e) => setDraft({ ...draft, status: e.target.value })}>
            <option value="">Any status</option>
            {SUBSCRIPTION_STATUSES.map((s) => (
              <option key={s} value={s}>
                {subscriptionStatusMeta(s).label}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="s-user">User id</label>
          <input id="s-user" type="search" value={draft.user} onChange={(e) => setDraft({ ...draft, user: e.target.value })} placeholder="user id" />
        </div>
        <div className="filters-actions">
          <button type="submit" className="btn btn-primary">Apply</button>
          {filtered && (
            <button type="button" className="btn" onClick={() => setParams('/subscriptions', params, { status: null, user: null })}>Clear</button>
          )}
        </div>
      </form>

      {subs.isPending ? (
        <Spinner label="Loading subscriptions…" />
      ) : subs.isError ? (
        <ErrorBox error={subs.error} onRetry={() => void subs.refetch()} />
      ) : items.length === 0 ? (
        <Empty>{filtered ? 'No subscription matches these filters.' : 'No subscriptions yet.'}</Empty>
      ) : (
        <>
          <div className="table-wrap" aria-busy={subs.isFetching}>
            <table className="table">
              <caption className="visually-hidden">Subscriptions, newest first{filtered ? ', filtered' : ''}</caption>
              <thead>
                <tr>
                  <th scope="col">Subscription</th>
                  <th scope="col">Status</th>
                  <th scope="col">Plan</th>
                  <th scope="col">User</th>
                  <th scope="col">Period ends</th>
                  <th scope="col">Next invoice</th>
                  <th scope="col">Dunning</th>
                </tr>
              </thead>
              <tbody>
                {items.map((s) => (
                  <tr key={s.subscriptionId}>
                    <td>
                      <Link to={`/subscriptions/${encodeURIComponent(s.subscriptionId)}`} className="mono">{s.subscriptionId}</Link>
                    </td>
                    <td>
                      <SubscriptionStatusBadge status={s.status} />
                      <PlanWithheldBadge subscription={s} />
                    </td>
                    <td>
                      {s.plan ?? <span className="muted">none</span>}
                      {s.reviewReason && <> <Badge tone="bad" title={s.reviewReason}>review</Badge></>}
                    </td>
                    <td className="truncate" title={s.userId}>{s.userId}</td>
                    <td>{s.currentPeriodEnd ? <Time iso={s.currentPeriodEnd} /> : <span className="muted">—</span>}</td>
                    <td>
                      {s.nextInvoice ? (
                        <>{s.nextInvoice.amount !== null && s.nextInvoice.currency ? money(s.nextInvoice.amount, s.nextInvoice.currency) : '?'} <span className="muted">on {dateTime(s.nextInvoice.at)}</span></>
                      ) : (
                        <span className="muted">none</span>
                      )}
                    </td>
                    <td>
                      {s.dunning ? <Badge tone="warn">{s.dunning.attempts} failed attempt{s.dunning.attempts === 1 ? '' : 's'}</Badge> : <span className="muted">—</span>}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <Pager shown={items.length} hasMore={subs.hasNextPage} loading={subs.isFetchingNextPage} onMore={() => void subs.fetchNextPage()} />
        </>
      )}
    </div>
  );
}

/** Flags a subscription whose status would keep its plan but which gives none: the money went back, or its order is not confirmed. */
function PlanWithheldBadge({ subscription: s }: { subscription: SubscriptionAccess }) {
  const withheld = planWithheldReason(s);
  if (!withheld) return null;
  return <> <Badge tone="bad" title={withheld}>{s.moneyTakenBack ? 'money back' : 'no plan'}</Badge></>;
}
