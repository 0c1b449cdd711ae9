import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useId, useState, type FormEvent, type ReactNode } from 'react';
import { can, type Me } from '../lib/access.js';
import { ConfirmDialog } from '../components/ConfirmDialog.js';
import { OrderStatusBadge } from '../components/OrderStatusBadge.js';
import { Badge, Copyable, Fact, ErrorBox, PageHeader, QueryView, Time } from '../components/ui.js';
import { dateTime, fromMinor, minorDigits, money, toMinor } from '../lib/format.js';
import { INBOX_STATE_META, ORDER_STATUSES, ORDER_STATUS_META, overrideConsequences, reviewOrigin, type GrantHolding, type InboxState, type OrderStatus } from '../lib/status.js';
import { refundability } from '../lib/refundability.js';
import { Link } from '../router.js';
import { ReplayDialog, type ReplayTarget } from '../components/ReplayDialog.js';
import { SubscriptionFacts } from './SubscriptionDetailPage.js';
import { subscriptionAccessHint, subscriptionStatusMeta } from '../lib/status.js';
import { errorCode, trpc, type RouterOutputs } from '../trpc.js';

type Detail = RouterOutputs['admin']['orders']['get'];

export function OrderDetailPage({ orderId, me }: { orderId: string; me: Me }) {
  const detail = useQuery({ ...trpc.admin.orders.get.queryOptions({ orderId }), refetchInterval: (q) => (q.state.status === 'error' ? false : 10_000) });
  return (
    <div>
      <p className="breadcrumb">
        <Link to="/orders">← Orders</Link>
      </p>
      {detail.isError && errorCode(detail.error) === 'NOT_FOUND' ? (
        <>
          <PageHeader title="Order not found" />
          <p className="wrap">
            There is no order <code>{orderId}</code>. Check the id, or <Link to={`/orders?q=${encodeURIComponent(orderId.slice(0, 200))}`}>search the orders</Link> for part of it.
          </p>
        </>
      ) : (
        <QueryView query={detail} loadingLabel="Loading order…">
          {(data) => <OrderDetail data={data} me={me} />}
        </QueryView>
      )}
    </div>
  );
}

function OrderDetail({ data, me }: { data: Detail; me: Me }) {
  const { order, subscription } = data;
  // One replay dialog for the page: it outlives the notice or timeline entry it was opened from.
  const [replaying, setReplaying] = useState<ReplayTarget | null>(null);
  const onReplay = can(me, 'operator') ? setReplaying : null;
  const meta = ORDER_STATUS_META[order.status];
  // A plan order's own status is about its first payment; what the customer has now is the subscription's.
  const hint = subscription && meta.paid
    ? `First invoice paid. The plan follows the subscription: ${subscriptionStatusMeta(subscription.status).label.toLowerCase()} — ${subscriptionAccessHint(subscription)}`
    : order.status === 'needs_review' && order.reviewReason
      ? reviewHint(data, order.reviewReason)
      : meta.hint;
  return (
    <>
      <PageHeader title={`Order ${order.orderId.slice(0, 8)}…`}>
        <OrderStatusBadge status={order.status} />
      </PageHeader>
      <p className="muted status-hint wrap">{hint}{order.failureReason ? ` — last failure: ${order.failureReason}` : ''}</p>
      <Incidents data={data} onReplay={onReplay} />
      <div className="detail-grid">
        <div className="detail-main">
          <section className="card" aria-labelledby="facts">
            <h2 id="facts">Order</h2>
            <dl className="facts">
              <Fact label="Order id"><Copyable value={order.orderId} label="order id" /></Fact>
              <Fact label="Amount">
                {money(order.amount, order.currency)}
                {order.amountRefunded > 0 && <span className="muted"> ({money(order.amountRefunded, order.currency)} refunded)</span>}
              </Fact>
              <Fact label="Product">{order.productId} × {order.quantity}</Fact>
              <Fact label="User"><Copyable value={order.userId} label="user id" /> <Link to={`/customers/${encodeURIComponent(order.userId)}`}>credits and ledger</Link></Fact>
              <Fact label="Buyer e-mail">{data.customerEmail ? <Copyable value={data.customerEmail} label="e-mail" /> : <span className="muted">not collected yet</span>}</Fact>
              <Fact label="Checkout session"><Copyable value={order.checkoutSessionId} label="checkout session id" /></Fact>
              <Fact label="Payment intent"><Copyable value={order.paymentIntentId} label="payment intent id" /></Fact>
              <Fact label="Handler">{order.handler}</Fact>
              <Fact label="Created">{dateTime(order.createdAt)}</Fact>
              <Fact label="Last change"><Time iso={order.updatedAt} /> <span className="muted">({dateTime(order.updatedAt)})</span></Fact>
              <Fact label="Paid">{dateTime(order.paidAt)}</Fact>
              <Fact label="Invoice">
                {order.invoice ? (
                  <>
                    {order.invoice.number ?? order.invoice.id} {order.invoice.status && <Badge>{order.invoice.status}</Badge>}{' '}
                    {order.invoice.url && <a href={order.invoice.url} target="_blank" rel="noreferrer">view</a>}{' '}
                    {order.invoice.pdfUrl && <a href={order.invoice.pdfUrl} target="_blank" rel="noreferrer">PDF</a>}
                  </>
                ) : (
                  <span className="muted">none</span>
                )}
              </Fact>
            </dl>
          </section>
          <PaymentIncidents data={data} operator={can(me, 'operator')} />
          {subscription && (
            <section className="card" aria-labelledby="order-subscription">
              <h2 id="order-subscription">Subscription</h2>
              <SubscriptionFacts subscription={subscription} linkToDetail />
            </section>
          )}
          <Timeline data={data} onReplay={onReplay} />
        </div>
        <aside className="detail-side" aria-label="Actions">
          {can(me, 'operator') ? (
            <>
              <OverrideForm data={data} />
              <ReconcileAction orderId={order.orderId} />
              <RefundForm data={data} />
            </>
          ) : (
            <section className="card">
              <h2>Actions</h2>
              <p className="muted">Your role ({me.role}) can look but not change orders. Ask an operator.</p>
            </section>
          )}
        </aside>
      </div>
      {replaying && <ReplayDialog event={replaying} onClose={() => setReplaying(null)} />}
    </>
  );
}

/** Why a `needs_review` order is parked: a business check that failed, or an admin who parked it (override), with their reason. */
function reviewHint(data: Detail, reviewReason: string): string {
  const origin = reviewOrigin(reviewReason);
  if (origin.by === 'check') return `A business check failed (${origin.check}): ${origin.message}. Only an admin moves it on.`;
  const parked = data.transitions.filter((t) => t.to === 'needs_review').at(-1);
  const who = parked && parked.cause === 'admin' && parked.actor ? ` (${parked.actor})` : '';
  return `Parked for review by an admin${who}, by hand: “${origin.reason}”. Only an admin moves it on.`;
}

/** The order's grant as it stands, and what took it back: what an override will move (`spec` comes from the server's catalogue). */
function grantHolding(data: Detail, spec: GrantHolding['spec']): GrantHolding {
  const g = data.grants.find((x) => (spec ? x.kind === spec.kind : true));
  const granted: GrantHolding['granted'] = !g
    ? null
    : g.kind === 'credits'
      ? { kind: 'credits', credits: Number(g.credits ?? 0), creditsRevoked: Number(g.creditsRevoked ?? 0) }
      : { kind: 'plan', plan: g.plan ?? '', revoked: g.revokedAt !== null };
  // The newest move that takes money back is what took the grant (a partial refund takes part of the credits).
  const taker = [...data.transitions].reverse().find((t) => ['refunded', 'partially_refunded', 'charged_back', 'canceled', 'failed'].includes(t.to));
  const label = taker ? ORDER_STATUS_META[taker.to as OrderStatus]?.label ?? taker.to : '';
  const takenBy = !taker
    ? null
    : taker.cause === 'admin'
      ? `the override to “${label}”`
      : taker.to === 'charged_back'
        ? 'the chargeback'
        : taker.to === 'refunded' || taker.to === 'partially_refunded'
          ? 'the refund'
          : `the move to “${label}”`;
  return { spec: spec ?? (granted ? (granted.kind === 'credits' ? { kind: 'credits', credits: granted.credits } : { kind: 'plan', plan: granted.plan }) : null), granted, takenBy };
}

type Entry = { key: string; at: string; kind: 'event' | 'transition' | 'grant' | 'created'; title: ReactNode; body?: ReactNode };

/** Stripe events about this order that need an operator, above everything else. */
function Incidents({ data, onReplay }: { data: Detail; onReplay: ((e: ReplayTarget) => void) | null }) {
  const open = data.events.filter((e) => e.state === 'dead' || e.state === 'failed' || e.state === 'unmatched');
  if (open.length === 0) return null;
  return (
    <div className="callout callout-bad" role="alert">
      <strong>{open.length === 1 ? 'A Stripe event about this order needs attention' : `${open.length} Stripe events about this order need attention`}</strong>
      <ul>
        {open.map((e) => (
          <li key={e.eventId}>
            <code>{e.type}</code> is {e.state} after {e.errors.length} failed attempt{e.errors.length === 1 ? '' : 's'}: <span className="wrap">{e.lastError ?? 'no error recorded'}</span>{' '}
            <a href={`#event-${e.eventId}`}>see it in the timeline</a>{' '}
            {onReplay && (
              <button type="button" className="btn btn-small" onClick={() => onReplay({ eventId: e.eventId, type: e.type, state: e.state })} aria-label={`Replay event ${e.eventId}`}>
                Replay…
              </button>
            )}
          </li>
        ))}
      </ul>
    </div>
  );
}

function Timeline({ data, onReplay }: { data: Detail; onReplay: ((e: ReplayTarget) => void) | null }) {
  const entries: Entry[] = [{ key: 'created', at: data.order.createdAt, kind: 'created', title: 'Order created (checkout session opened)' }];
  for (const e of data.events) {
    const state = e.state as InboxState;
    entries.push({
      key: `e-${e.eventId}`,
      at: e.receivedAt,
      kind: 'event',
      title: (
        <>
          Stripe event <code>{e.type}</code> <Badge tone={INBOX_STATE_META[state]?.tone ?? 'neutral'}>{e.state}</Badge>
        </>
      ),
      body: (
        <>
          <span className="muted wrap" id={`event-${e.eventId}`}>
            <code>{e.eventId}</code> · Stripe time {dateTime(e.stripeCreatedAt)}
            {e.outcome ? ` · ${e.outcome}` : ''}
            {e.errors.length > 0 ? ` · ${e.errors.length} failed attempt${e.errors.length === 1 ? '' : 's'}` : ''}
            {e.replays.length > 0 ? ` · replayed ${e.replays.length}×` : ''}
          </span>
          {e.errors.length > 0 && (
            <ol className="attempts-list" aria-label={`Failed attempts of ${e.eventId}`}>
              {e.errors.map((a, i) => (
                <li key={`${i}-${a.at}`}>
                  <span className="muted">{dateTime(a.at)} · attempt {a.attempt} · {a.transient ? 'transient' : 'permanent'}</span>
                  <pre className="error-text">{a.error}</pre>
                </li>
              ))}
            </ol>
          )}
          {e.errors.length === 0 && e.lastError && <pre className="error-text">{e.lastError}</pre>}
          {/* Processed events can be replayed from Events; here only those that need it. */}
          {onReplay && (e.state === 'dead' || e.state === 'failed' || e.state === 'unmatched') && (
            <button type="button" className="btn btn-small" onClick={() => onReplay({ eventId: e.eventId, type: e.type, state: e.state })} aria-label={`Replay event ${e.eventId}`}>
              Replay…
            </button>
          )}
        </>
      ),
    });
  }
  for (const e of data.events) {
    for (const [i, r] of e.replays.entries()) {
      entries.push({
        key: `r-${e.eventId}-${i}`,
        at: r.at,
        kind: 'transition',
        title: (
          <>
            Replayed <code>{e.type}</code>{r.bulk ? ' (bulk replay of dead letters)' : ''}
          </>
        ),
        body: (
          <span>
            by <strong>{r.actor}</strong>
            {r.reason && <span className="reason">“{r.reason}”</span>}
          </span>
        ),
      });
    }
  }
  for (const t of data.transitions) {
    const to = t.to as OrderStatus;
    entries.push({
      key: `t-${t.id}`,
      at: t.at,
      kind: 'transition',
      title: (
        <>
          {t.from ? <>{ORDER_STATUS_META[t.from as OrderStatus]?.label ?? t.from} → </> : null}
          <strong>{ORDER_STATUS_META[to]?.label ?? t.to}</strong>
        </>
      ),
      body: (
        <span>
          by <strong>{t.actor ?? t.cause}</strong> <span className="muted">({t.cause}{t.eventId ? `, event ${t.eventId}` : ''}{t.stripeAt ? `, Stripe time ${dateTime(t.stripeAt)}` : ''})</span>
          {t.reason && <span className="reason">“{t.reason}”</span>}
        </span>
      ),
    });
  }
  for (const [i, g] of data.grants.entries()) {
    const what = g.kind === 'credits' || g.credits ? `${g.credits ?? 0} credits` : `plan ${g.plan ?? ''}`;
    entries.push({ key: `g-${i}`, at: g.grantedAt, kind: 'grant', title: <>Granted {what}</>, body: g.eventId ? <span className="muted">from event {g.eventId}</span> : undefined });
    // Credits taken back are listed from the ledger below (a partial take-back leaves the grant in place).
    if (g.revokedAt && g.kind !== 'credits') entries.push({ key: `gr-${i}`, at: g.revokedAt, kind: 'grant', title: <>Revoked {what}</> });
  }
  for (const [i, c] of data.credits.entries()) {
    if (c.delta >= 0) continue;
    entries.push({ key: `c-${i}`, at: c.at, kind: 'grant', title: <>Revoked {-c.delta} credits</>, body: <span className="muted">{c.reason}</span> });
  }
  entries.sort((a, b) => a.at.localeCompare(b.at) || a.key.localeCompare(b.key));
  return (
    <section className="card" aria-labelledby="timeline">
      <h2 id="timeline">Timeline</h2>
      <ol className="timeline">
        {entries.map((e) => (
          <li key={e.key} className={`timeline-item timeline-${e.kind}`}>
            <span className="timeline-dot" aria-hidden="true" />
            <div>
              <div className="timeline-title">
                {e.title} <span className="timeline-time"><Time iso={e.at} /> · {dateTime(e.at)}</span>
              </div>
              {e.body && <div className="timeline-body">{e.body}</div>}
            </div>
          </li>
        ))}
      </ol>
    </section>
  );
}

/**
 * A refund Stripe accepted reaches the order through Stripe's webhooks a moment later: until its row
 * is on the order (or for 30 s at most), the order is read every second instead of every ten.
 */
function useRefundArrival(orderId: string) {
  const [awaiting, setAwaiting] = useState<{ refundId: string; since: number } | null>(null);
  useQuery({
    ...trpc.admin.orders.get.queryOptions({ orderId }),
    enabled: awaiting !== null,
    refetchInterval: (q) => {
      if (!awaiting || q.state.status === 'error') return false;
      const arrived = q.state.data?.refunds.some((r) => r.refundId === awaiting.refundId);
      return arrived || Date.now() - awaiting.since > 30_000 ? false : 1_000;
    },
  });
  return (refundId: string) => setAwaiting({ refundId, since: Date.now() });
}

function useRefreshOrder(orderId: string) {
  const queryClient = useQueryClient();
  return () => {
    // The order, the lists it is in, and the Needs attention view it may leave.
    void queryClient.invalidateQueries({ queryKey: trpc.admin.orders.pathKey() });
    void queryClient.invalidateQueries({ queryKey: trpc.admin.audit.list.pathKey() });
  };
}

function OverrideForm({ data }: { data: Detail }) {
  const { order } = data;
  const id = useId();
  const [to, setTo] = useState<OrderStatus | ''>('');
  const [reason, setReason] = useState('');
  const [touched, setTouched] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const [done, setDone] = useState<string | null>(null);
  const refresh = useRefreshOrder(order.orderId);
  // What the product gives for this order, from the server's catalogue (only needed before anything was granted).
  const grantSpec = useQuery({
    ...trpc.admin.orders.refundPreview.queryOptions({ orderId: order.orderId, amount: 1 }),
    enabled: confirming && data.grants.length === 0,
    select: (p): GrantHolding['spec'] => (p.grant.kind === 'credits' ? { kind: 'credits', credits: p.grant.credits } : { kind: 'plan', plan: p.grant.plan }),
  });
  const override = useMutation(
    trpc.admin.orders.override.mutationOptions({
      onSuccess: (o) => {
        setConfirming(false);
        setDone(`Order moved to ${ORDER_STATUS_META[o.status].label}. The change is in the timeline and the audit log.`);
        setTo('');
        setReason('');
        setTouched(false);
        refresh();
      },
    }),
  );
  const reasonError = reason.trim().length < 3 ? 'A reason of at least 3 characters is required.' : null;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    setTouched(true);
    setDone(null);
    override.reset();
    if (!to || reasonError) return;
    setConfirming(true);
  };
  return (
    <section className="card" aria-labelledby={`${id}-h`}>
      <h2 id={`${id}-h`}>Override status</h2>
      <form onSubmit={submit} noValidate>
        <div className="field">
          <label htmlFor={`${id}-to`}>New status</label>
          <select id={`${id}-to`} value={to} onChange={(e) => setTo(e.target.value as OrderStatus | '')} required aria-invalid={touched && !to}>
            <option value="">Choose a status…</option>
            {ORDER_STATUSES.filter((s) => s !== order.status).map((s) => (
              <option key={s} value={s}>
                {ORDER_STATUS_META[s].label}
              </option>
            ))}
          </select>
          {touched && !to && <small className="field-error" role="alert">Choose the status to move to.</small>}
        </div>
        <div className="field">
          <label htmlFor={`${id}-reason`}>Reason (required)</label>
          <textarea
            id={`${id}-reason`}
            rows={3}
            maxLength={500}
            value={reason}
            onChange={(e) => setReason(e.target.value)}
            required
            aria-invalid={touched && Boolean(reasonError)}
            aria-describedby={`${id}-reason-hint`}
            placeholder="e.g. Funds confirmed in Stripe dashboard; webhook lost (INC-1234)"
          />
          <small id={`${id}-reason-hint`} className={touched && reasonError ? 'field-error' : 'muted'}>
            {touched && reasonError ? reasonError : 'Written to the audit log with your name.'}
          </small>
        </div>
        <button type="submit" className="btn btn-primary">
          Review override…
        </button>
      </form>
      {done && <p className="callout callout-good" role="status">{done}</p>}
      {to && (
        <ConfirmDialog
          open={confirming}
          title={`Override to ${ORDER_STATUS_META[to].label}?`}
          confirmLabel={`Override to ${ORDER_STATUS_META[to].label}`}
          danger
          busy={override.isPending}
          onCancel={() => setConfirming(false)}
          onConfirm={() => override.mutate({ orderId: order.orderId, to, reason: reason.trim() })}
        >
          <p>
            Order <code>{order.orderId}</code> ({money(order.amount, order.currency)}):
          </p>
          <ul className="consequences">
            {overrideConsequences(order.status, to, grantHolding(data, grantSpec.data ?? null), { amount: order.amountRefunded, currency: order.currency }).map((line) => (
              <li key={line}>{line}</li>
            ))}
          </ul>
          <p>
            Reason: <q>{reason.trim()}</q>
          </p>
          {override.isError && <ErrorBox error={override.error} title="The override was refused" />}
        </ConfirmDialog>
      )}
    </section>
  );
}

function ReconcileAction({ orderId }: { orderId: string }) {
  const refresh = useRefreshOrder(orderId);
  const reconcile = useMutation(trpc.admin.orders.reconcile.mutationOptions({ onSuccess: () => refresh() }));
  return (
    <section className="card" aria-labelledby="reconcile-h">
      <h2 id="reconcile-h">Reconcile with Stripe</h2>
      <p className="muted">Ask Stripe for this payment's real state and apply what Settle missed. Safe to repeat.</p>
      <button type="button" className="btn" onClick={() => reconcile.mutate({ orderId, reason: 'console: reconcile' })} disabled={reconcile.isPending}>
        {reconcile.isPending ? 'Asking Stripe…' : 'Reconcile now'}
      </button>
      {reconcile.isSuccess && (
        <p className="callout callout-good" role="status">
          {reconcile.data.changed ? `Updated from Stripe: the order is now ${ORDER_STATUS_META[reconcile.data.order.status].label}.` : 'Stripe agrees with Settle: nothing changed.'}
        </p>
      )}
      {reconcile.isError && <ErrorBox error={reconcile.error} title="Reconcile failed" />}
    </section>
  );
}

function RefundForm({ data }: { data: Detail }) {
  const { order } = data;
  const refundable = order.amount - order.amountRefunded;
  // Offered only where the API accepts it; a needs_review order may have been partly paid (amount mismatch).
  const rule = refundability(order);
  const inReview = rule.ok && rule.inReview;
  const [amount, setAmount] = useState('');
  const [reason, setReason] = useState('');
  const [touched, setTouched] = useState(false);
  const [requestId, setRequestId] = useState<string | null>(null);
  const refresh = useRefreshOrder(order.orderId);
  const awaitRefund = useRefundArrival(order.orderId);
  const refund = useMutation(
    trpc.admin.orders.refund.mutationOptions({
      onSuccess: (result) => {
        awaitRefund(result.refundId);
        setRequestId(null);
        setAmount('');
        setReason('');
        setTouched(false);
        refresh();
      },
    }),
  );
  const minor = amount.trim() === '' ? refundable : toMinor(amount, order.currency);
  const preview = useQuery({
    ...trpc.admin.orders.refundPreview.queryOptions({ orderId: order.orderId, amount: Number.isFinite(minor) && minor > 0 ? minor : 1 }),
    enabled: requestId !== null && Number.isFinite(minor) && minor > 0,
  });
  // The currency's smallest unit: 0.01 for USD, 1 for JPY, 0.001 for KWD.
  const step = (1 / 10 ** minorDigits(order.currency)).toFixed(minorDigits(order.currency));
  const amountError = !Number.isFinite(minor) || minor <= 0 ? `Enter a positive amount${minorDigits(order.currency) === 0 ? ', in whole units' : `, with at most ${minorDigits(order.currency)} decimals`}.` : minor > refundable ? `At most ${money(refundable, order.currency)} can be refunded.` : null;
  const reasonError = reason.trim().length < 3 ? 'A reason of at least 3 characters is required.' : null;

  if (!rule.ok) {
    return (
      <section className="card" aria-labelledby="refund-h">
        <h2 id="refund-h">Refund</h2>
        <p className="muted wrap">{rule.why}</p>
      </section>
    );
  }
  return (
    <section className="card" aria-labelledby="refund-h">
      <h2 id="refund-h">Refund</h2>
      {inReview && (
        <p className="muted">
          This order is in review, so Settle does not know how much Stripe collected. Stripe refuses a refund larger than what was paid.
        </p>
      )}
      <form
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          setTouched(true);
          refund.reset();
          if (!amountError && !reasonError) setRequestId(crypto.randomUUID());
        }}
      >
        <div className="field">
          <label htmlFor="refund-amount">Amount ({order.currency.toUpperCase()})</label>
          <input id="refund-amount" type="number" min={step} step={step} inputMode="decimal" value={amount} onChange={(e) => setAmount(e.target.value)} placeholder={fromMinor(refundable, order.currency).toFixed(minorDigits(order.currency))} aria-describedby="refund-amount-hint" aria-invalid={touched && Boolean(amountError)} />
          <small id="refund-amount-hint" className={touched && amountError ? 'field-error' : 'muted'}>
            {touched && amountError ? amountError : `Empty: the full ${money(refundable, order.currency)} not refunded yet.`}
          </small>
        </div>
        <div className="field">
          <label htmlFor="refund-reason">Reason (required)</label>
          <textarea id="refund-reason" rows={2} maxLength={500} value={reason} onChange={(e) => setReason(e.target.value)} aria-invalid={touched && Boolean(reasonError)} aria-describedby="refund-reason-hint" />
          <small id="refund-reason-hint" className={touched && reasonError ? 'field-error' : 'muted'}>
            {touched && reasonError ? reasonError : 'Written to the audit log with your name.'}
          </small>
        </div>
        <button type="submit" className="btn">
          Review refund…
        </button>
      </form>
      {refund.isSuccess && (
        <p className="callout callout-good" role="status">
          Refund {refund.data.refundId} for {money(refund.data.amount, order.currency)} is {refund.data.status}. The order updates when Stripe confirms.
        </p>
      )}
      <ConfirmDialog
        open={requestId !== null}
        title={`Refund ${money(Number.isFinite(minor) ? minor : 0, order.currency)}?`}
        confirmLabel={`Refund ${money(Number.isFinite(minor) ? minor : 0, order.currency)}`}
        danger
        busy={refund.isPending}
        onCancel={() => setRequestId(null)}
        onConfirm={() => requestId && refund.mutate({ orderId: order.orderId, amount: minor, reason: reason.trim(), requestId })}
      >
        <ul className="consequences">
          <li>Stripe returns {money(Number.isFinite(minor) ? minor : 0, order.currency)} of {money(order.amount, order.currency)} to the customer. Money moves; this cannot be undone.</li>
          <li>{preview.isPending ? 'Working out what the refund takes back…' : preview.isError ? <ErrorBox error={preview.error} title="What the refund takes back is unknown" /> : refundConsequence(preview.data)}</li>
          <li>Your name and the reason go to the audit log.</li>
        </ul>
        <p>Reason: <q>{reason.trim()}</q></p>
        {refund.isError && <ErrorBox error={refund.error} title="The refund was refused" />}
      </ConfirmDialog>
    </section>
  );
}

const REFUND_STATUS_TONE = { pending: 'info', requires_action: 'warn', succeeded: 'good', failed: 'bad', canceled: 'bad' } as const;

/** Refunds as Stripe reported them, and second payments the customer made for this order. */
function PaymentIncidents({ data, operator }: { data: Detail; operator: boolean }) {
  const { order, refunds, duplicatePayments } = data;
  const [refunding, setRefunding] = useState<Detail['duplicatePayments'][number] | null>(null);
  const awaitRefund = useRefundArrival(order.orderId);
  if (refunds.length === 0 && duplicatePayments.length === 0) return null;
  // Only a second payment not refunded in full still needs an operator.
  const open = duplicatePayments.filter((d) => d.amountRefunded < d.amount);
  const settled = duplicatePayments.filter((d) => d.amountRefunded >= d.amount);
  return (
    <section className="card" aria-labelledby="incidents-h">
      <h2 id="incidents-h">Refunds and duplicate payments</h2>
      {open.length > 0 && (
        <div className="callout callout-warn" role="status">
          <p>
            <strong>The customer paid this order {duplicatePayments.length + 1} times.</strong> The order and its grant rest on{' '}
            <code>{order.paymentIntentId}</code>; refund the extra payment{open.length > 1 ? 's' : ''} below.
          </p>
          <ul>
            {open.map((d) => (
              <li key={d.paymentIntentId}>
                <code>{d.paymentIntentId}</code>: {money(d.amount, d.currency)} on {dateTime(d.at)}
                {d.amountRefunded > 0 && <span> — {money(d.amountRefunded, d.currency)} refunded</span>}{' '}
                {operator && d.amountRefunded < d.amount && (
                  <button type="button" className="btn btn-small" onClick={() => setRefunding(d)}>
                    Refund this payment…
                  </button>
                )}
              </li>
            ))}
          </ul>
        </div>
      )}
      {settled.length > 0 && (
        <div>
          <p>Extra payment{settled.length > 1 ? 's' : ''} of this order, refunded in full:</p>
          <ul>
            {settled.map((d) => (
              <li key={d.paymentIntentId}>
                <code>{d.paymentIntentId}</code>: {money(d.amount, d.currency)} paid on {dateTime(d.at)}, {money(d.amountRefunded, d.currency)} refunded
              </li>
            ))}
          </ul>
        </div>
      )}
      {refunds.length > 0 && (
        <div className="table-wrap">
          <table className="table">
            <caption className="visually-hidden">Refunds of this order</caption>
            <thead>
              <tr>
                <th scope="col">Refund</th>
                <th scope="col" className="num">Amount</th>
                <th scope="col">Status</th>
                <th scope="col">Reason</th>
                <th scope="col">Created</th>
              </tr>
            </thead>
            <tbody>
              {refunds.map((r) => (
                <tr key={r.refundId}>
                  <td className="mono truncate" title={r.paymentIntentId === order.paymentIntentId ? r.refundId : `${r.refundId} (of duplicate payment ${r.paymentIntentId})`}>{r.refundId}</td>
                  <td className="num">{money(r.amount, r.currency)}</td>
                  <td>
                    <Badge tone={REFUND_STATUS_TONE[r.status]}>{r.status}</Badge>
                    {r.undoneAt && <span className="muted"> undone {dateTime(r.undoneAt)}</span>}
                  </td>
                  <td>{r.failureReason ?? r.reason ?? <span className="muted">—</span>}</td>
                  <td>{dateTime(r.createdAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {refunding && <RefundDuplicate orderId={order.orderId} payment={refunding} onClose={() => setRefunding(null)} onRefunded={awaitRefund} />}
    </section>
  );
}

function RefundDuplicate({ orderId, payment, onClose, onRefunded }: { orderId: string; payment: Detail['duplicatePayments'][number]; onClose: () => void; onRefunded: (refundId: string) => void }) {
  const [reason, setReason] = useState('Customer paid twice');
  const [requestId] = useState(() => crypto.randomUUID());
  const refresh = useRefreshOrder(orderId);
  const remaining = payment.amount - payment.amountRefunded;
  const refund = useMutation(
    trpc.admin.orders.refund.mutationOptions({
      onSuccess: (result) => {
        onRefunded(result.refundId);
        refresh();
      },
    }),
  );
  return (
    <ConfirmDialog
      open
      title={refund.isSuccess ? 'Refund requested' : `Refund ${money(remaining, payment.currency)} of the duplicate payment?`}
      confirmLabel={refund.isSuccess ? 'Close' : `Refund ${money(remaining, payment.currency)}`}
      busy={refund.isPending}
      confirmDisabled={!refund.isSuccess && reason.trim().length < 3}
      onCancel={onClose}
      onConfirm={() => (refund.isSuccess ? onClose() : refund.mutate({ orderId, paymentIntentId: payment.paymentIntentId, reason: reason.trim(), requestId }))}
    >
      {refund.isSuccess ? (
        <p role="status">Refund {refund.data.refundId} is {refund.data.status}. The order itself does not change.</p>
      ) : (
        <>
          <p>
            Stripe refunds <code>{payment.paymentIntentId}</code>. The order, its payment <em>and its grant</em> stay as they are.
          </p>
          <div className="field">
            <label htmlFor="dup-reason">Reason (required)</label>
            <input id="dup-reason" value={reason} onChange={(e) => setReason(e.target.value)} />
          </div>
          {refund.isError && <ErrorBox error={refund.error} title="The refund was refused" />}
        </>
      )}
    </ConfirmDialog>
  );
}

/** What a refund does to the grant, from the server's preview of the product's refund policy. */
function refundConsequence(p: RouterOutputs['admin']['orders']['refundPreview']): string {
  if (!p.granted) return 'Nothing was granted for this order, so nothing is taken back.';
  if (p.grant.kind === 'plan') {
    return p.full ? `A full refund ends the ${p.grant.plan} plan when Stripe confirms it.` : `A partial refund keeps the ${p.grant.plan} plan (the product's refund policy).`;
  }
  if (p.full) return `A full refund takes back the credits still held (${p.creditsRevoked} of ${p.grant.credits}) when Stripe confirms it.`;
  if (p.partialRefundPolicy === 'none') return `The product's refund policy keeps the credits on a partial refund: none of the ${p.grant.credits} credits are taken back.`;
  return `Takes back ${p.creditsRevoked} of the ${p.grant.credits} credits, in proportion to the amount refunded (the product's refund policy), when Stripe confirms it.`;
}
