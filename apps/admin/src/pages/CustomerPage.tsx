import { useInfiniteQuery } from '@tanstack/react-query';
import { Badge, Copyable, Empty, ErrorBox, PageHeader, Pager, Spinner, Time } from '../components/ui.js';
import { count, dateTime } from '../lib/format.js';
import { Link } from '../router.js';
import { trpc } from '../trpc.js';

/** One end user: entitlements now, and the credit ledger behind them (grants, spends, revocations). */
export function CustomerPage({ userId }: { userId: string }) {
  const customer = useInfiniteQuery(
    trpc.admin.customers.get.infiniteQueryOptions({ userId, limit: 50 }, { getNextPageParam: (last) => last.ledger.nextCursor ?? undefined }),
  );
  if (customer.isPending) return <Spinner label="Loading the customer…" />;
  if (customer.isError) return <ErrorBox error={customer.error} onRetry={() => void customer.refetch()} />;
  const first = customer.data.pages[0]!;
  const e = first.entitlements;
  const entries = customer.data.pages.flatMap((p) => p.ledger.items);
  return (
    <>
      <PageHeader title="Customer" />
      <section className="card" aria-labelledby="customer-facts">
        <h2 id="customer-facts">Entitlements</h2>
        {!first.known && <p className="callout callout-info">Settle has no entitlements for this user yet.</p>}
        <dl className="facts">
          <div className="fact"><dt>User</dt><dd><Copyable value={userId} label="user id" /></dd></div>
          <div className="fact"><dt>Credits</dt><dd>{count(e.credits)}{e.creditDebt > 0 && <> <Badge tone="warn">{count(e.creditDebt)} owed</Badge></>}</dd></div>
          <div className="fact"><dt>Plan</dt><dd>{e.plan ?? <span className="muted">none</span>}{e.subscriptionStatus && <> <Badge>{e.subscriptionStatus}</Badge></>}</dd></div>
          <div className="fact"><dt>Paid until</dt><dd>{dateTime(e.planPeriodEnd)}</dd></div>
          <div className="fact"><dt>Webhooks</dt><dd><Link to={`/deliveries?state=delivered&user=${encodeURIComponent(userId)}`}>deliveries to the host</Link></dd></div>
        </dl>
      </section>
      <section className="card" aria-labelledby="ledger-h">
        <h2 id="ledger-h">Credit ledger</h2>
        {entries.length === 0 ? (
          <Empty>No credit movements.</Empty>
        ) : (
          <>
            <div className="table-wrap">
              <table className="table">
                <caption className="visually-hidden">Credit ledger, newest first</caption>
                <thead>
                  <tr>
                    <th scope="col">When</th>
                    <th scope="col">Entry</th>
                    <th scope="col" className="num">Change</th>
                    <th scope="col" className="num">Balance</th>
                    <th scope="col" className="num">Debt</th>
                    <th scope="col">Order or key</th>
                  </tr>
                </thead>
                <tbody>
                  {entries.map((l) => (
                    <tr key={l.id}>
                      <td><Time iso={l.createdAt} /></td>
                      <td>
                        <code>{l.reason}</code>
                        {l.note && <span className="muted"> — {l.note}</span>}
                      </td>
                      <td className="num">{l.delta > 0 ? `+${count(l.delta)}` : count(l.delta)}</td>
                      <td className="num">{count(l.balanceAfter)}</td>
                      <td className="num">{l.debtAfter > 0 ? count(l.debtAfter) : <span className="muted">0</span>}</td>
                      <td>
                        {l.orderId ? (
                          <Link to={`/orders/${l.orderId}`} className="mono">{l.orderId.slice(0, 8)}…</Link>
                        ) : l.idempotencyKey ? (
                          <span className="mono truncate" title={l.idempotencyKey}>{l.idempotencyKey}</span>
                        ) : (
                          <span className="muted">—</span>
                        )}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            <Pager shown={entries.length} hasMore={customer.hasNextPage} loading={customer.isFetchingNextPage} onMore={() => void customer.fetchNextPage()} />
          </>
        )}
      </section>
    </>
  );
}
