import { useQuery } from '@tanstack/react-query';
import { SubscriptionStatusBadge } from '../components/SubscriptionStatusBadge.js';
import { Badge, Copyable, Fact, PageHeader, QueryView, Time } from '../components/ui.js';
import { dateTime, money } from '../lib/format.js';
import { planWithheldReason, subscriptionAccessHint, subscriptionStatusMeta } from '../lib/status.js';
import { Link } from '../router.js';
import { trpc, type RouterOutputs } from '../trpc.js';

type Detail = RouterOutputs['admin']['subscriptions']['get'];

export function SubscriptionDetailPage({ subscriptionId }: { subscriptionId: string }) {
  const detail = useQuery({ ...trpc.admin.subscriptions.get.queryOptions({ subscriptionId }), refetchInterval: 15_000 });
  return (
    <div>
      <p className="breadcrumb">
        <Link to="/subscriptions">← Subscriptions</Link>
      </p>
      <QueryView query={detail} loadingLabel="Loading subscription…">
        {(data) => <SubscriptionDetail data={data} />}
      </QueryView>
    </div>
  );
}

/** A subscription's facts, as the subscription page and a plan order's page show them. */
export function SubscriptionFacts({ subscription: s, linkToDetail = false }: { subscription: Detail['subscription']; linkToDetail?: boolean }) {
  return (
    <dl className="facts">
      <Fact label="Subscription">
        {linkToDetail ? <Link to={`/subscriptions/${encodeURIComponent(s.subscriptionId)}`} className="mono">{s.subscriptionId}</Link> : <Copyable value={s.subscriptionId} label="subscription id" />}
      </Fact>
      <Fact label="Status"><SubscriptionStatusBadge status={s.status} /> <span className="muted">Stripe: {s.stripeStatus}</span></Fact>
      <Fact label="Plan">
        {s.plan ?? <span className="muted">none</span>}
        {planWithheldReason(s) && <> <Badge tone="bad">{planWithheldReason(s)}</Badge></>}
      </Fact>
      <Fact label="Price"><Copyable value={s.stripePriceId} label="price id" /></Fact>
      {s.reviewReason && <Fact label="Review"><span className="field-error">{s.reviewReason}</span></Fact>}
      <Fact label="Period ends">{dateTime(s.currentPeriodEnd)}</Fact>
      {s.cancelAt && <Fact label="Cancels at">{dateTime(s.cancelAt)}</Fact>}
      {s.trialEnd && <Fact label="Trial ends">{dateTime(s.trialEnd)}</Fact>}
      <Fact label="Next invoice">
        {s.nextInvoice ? <>{s.nextInvoice.amount !== null && s.nextInvoice.currency ? money(s.nextInvoice.amount, s.nextInvoice.currency) : '?'} on {dateTime(s.nextInvoice.at)}</> : <span className="muted">none</span>}
      </Fact>
      <Fact label="Dunning">
        {s.dunning ? <>{s.dunning.attempts} failed attempt{s.dunning.attempts === 1 ? '' : 's'} on {s.dunning.invoiceId} ({money(s.dunning.amountDue, s.dunning.currency)})</> : <span className="muted">none</span>}
      </Fact>
      <Fact label="User"><Copyable value={s.userId} label="user id" /></Fact>
    </dl>
  );
}

function SubscriptionDetail({ data }: { data: Detail }) {
  const s = data.subscription;
  return (
    <>
      <PageHeader title={`Subscription ${s.subscriptionId}`}>
        <SubscriptionStatusBadge status={s.status} />
      </PageHeader>
      <p className="muted status-hint">{subscriptionAccessHint(s)}</p>
      <div className="detail-grid">
        <div className="detail-main">
          <section className="card" aria-labelledby="sub-facts">
            <h2 id="sub-facts">Subscription</h2>
            <SubscriptionFacts subscription={s} />
            {data.order && (
              <p>
                Started by order <Link to={`/orders/${data.order.orderId}`} className="mono">{data.order.orderId.slice(0, 8)}…</Link> ({data.order.productId})
              </p>
            )}
          </section>
          <section className="card" aria-labelledby="sub-invoices">
            <h2 id="sub-invoices">Invoices and payments</h2>
            <div className="table-wrap">
              <table className="table">
                <thead>
                  <tr>
                    <th scope="col">Invoice</th>
                    <th scope="col">Reason</th>
                    <th scope="col">Status</th>
                    <th scope="col" className="num">Paid</th>
                    <th scope="col">Period</th>
                    <th scope="col">Payment</th>
                    <th scope="col">Refunds and disputes</th>
                  </tr>
                </thead>
                <tbody>
                  {data.invoices.map((i) => (
                    <tr key={i.invoiceId}>
                      <td className="mono">{i.hostedInvoiceUrl ? <a href={i.hostedInvoiceUrl} target="_blank" rel="noreferrer">{i.number ?? i.invoiceId}</a> : i.number ?? i.invoiceId}</td>
                      <td>{i.billingReason ?? '—'}</td>
                      <td><Badge tone={i.status === 'paid' ? 'good' : i.attemptCount > 0 ? 'warn' : 'neutral'}>{i.status}</Badge>{i.attemptCount > 1 && <span className="muted"> {i.attemptCount} attempts</span>}</td>
                      <td className="num">{money(i.amountPaid, i.currency)} <span className="muted">of {money(i.amountDue, i.currency)}</span></td>
                      <td>{dateTime(i.periodStart)} → {dateTime(i.periodEnd)}</td>
                      <td className="mono">{i.paymentIntentId ?? <span className="muted">{i.amountDue === 0 ? 'nothing due' : 'not linked yet'}</span>}</td>
                      <td>
                        {i.amountRefunded > 0 && <Badge tone={i.moneyTakenBack ? 'bad' : 'warn'}>refunded {money(i.amountRefunded, i.currency)}</Badge>}{' '}
                        {i.refunds.filter((r) => r.status === 'failed' || r.status === 'canceled').map((r) => (
                          <Badge key={r.refundId} tone="neutral" title={`${r.refundId}: the money stayed paid`}>refund of {money(r.amount, i.currency)} {r.status}</Badge>
                        ))}{' '}
                        {i.dispute && <Badge tone={i.dispute.status === 'lost' ? 'bad' : i.dispute.status === 'won' || i.dispute.status === 'prevented' ? 'good' : 'warn'}>dispute {i.dispute.status}</Badge>}
                        {!i.amountRefunded && !i.dispute && i.refunds.length === 0 && <span className="muted">—</span>}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </section>
          <section className="card" aria-labelledby="sub-timeline">
            <h2 id="sub-timeline">Timeline</h2>
            <ol className="timeline">
              {data.history.map((h) => (
                <li key={h.id} className={`timeline-item timeline-${h.kind === 'payment' ? 'event' : 'transition'}`}>
                  <span className="timeline-dot" aria-hidden="true" />
                  <div>
                    <div className="timeline-title">
                      {h.kind === 'status' && <>{h.fromStatus ? <>{subscriptionStatusMeta(h.fromStatus).label} → </> : null}<strong>{subscriptionStatusMeta(h.toStatus ?? '').label}</strong></>}
                      {h.kind === 'plan' && <>Plan {h.fromPlan ?? 'none'} → <strong>{h.toPlan ?? 'none'}</strong></>}
                      {h.kind === 'payment' && <>Payment {h.invoiceId}</>}
                      {h.kind === 'review' && <strong className="field-error">Waiting for review</strong>}
                      {h.kind === 'notice' && <>Notice</>}{' '}
                      <span className="timeline-time"><Time iso={h.at} /> · {dateTime(h.at)}</span>
                    </div>
                    <div className="timeline-body">
                      by <strong>{h.actor}</strong> <span className="muted">({h.cause}{h.eventId ? `, event ${h.eventId}` : ''}{h.stripeAt ? `, Stripe time ${dateTime(h.stripeAt)}` : ''})</span>
                      {h.reason && <span className="reason">“{h.reason}”</span>}
                    </div>
                  </div>
                </li>
              ))}
            </ol>
          </section>
        </div>
      </div>
    </>
  );
}

