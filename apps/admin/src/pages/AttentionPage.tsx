import { useQuery } from '@tanstack/react-query';
import { Badge, Empty, PageHeader, QueryView } from '../components/ui.js';
import { dateTime, money, plural, waited } from '../lib/format.js';
import { Link } from '../router.js';
import { reviewOrigin } from '../lib/status.js';
import { trpc, type RouterOutputs } from '../trpc.js';

type Attention = RouterOutputs['admin']['orders']['attention'];
type Item = Attention['items'][number];
type Kind = Item['kind'];

/** Each kind in an operator's words: what it is, and what to do about it. */
const KIND_META: Record<Kind, { label: string; action: string }> = {
  processing_overdue: { label: 'Async payment overdue', action: 'Open the order and Reconcile: Stripe knows whether the money arrived.' },
  requires_action_overdue: { label: 'Customer action overdue', action: 'Reconcile; if the customer abandoned 3-D Secure, the payment fails or expires on its own.' },
  needs_review: { label: 'Needs review', action: 'A business check failed: check the payment in Stripe, then override or refund with a reason.' },
  dead_letter: { label: 'Dead letter', action: 'Fix the cause named in the error, then Replay the event (from its order or from Events).' },
  unmatched_event: { label: 'Unmatched event', action: 'No order matched: check whether the order exists; Replay once it does.' },
  duplicate_payment: { label: 'Duplicate payment', action: 'The customer paid twice for one order: open the order and refund the second payment by its PaymentIntent.' },
  subscription_review: {
    label: 'Subscription in review',
    action: 'Its price is not in the catalogue, so the last known plan is kept: add the price to PRODUCTS_FILE (with its plan), or change the subscription in Stripe.',
  },
  abandoned_checkout: { label: 'Abandoned checkout', action: 'Nothing to do: Stripe expires the session after 24 h and the order is canceled.' },
  customer_failure: { label: 'Customer-side failure', action: 'Nothing to do: the payment failed at the customer (declined, SEPA returned); they may pay again.' },
};

/** A needs_review order an admin parked by hand is not a failed check: say so, with their reason. */
function rowText(i: Item): { detail: string | null; action: string } {
  if (i.kind === 'needs_review' && i.detail && reviewOrigin(i.detail).by === 'admin') {
    return { detail: `Parked by an admin: “${i.detail}”`, action: 'An admin parked it by hand: read their reason, then override or refund with a reason.' };
  }
  return { detail: i.detail, action: KIND_META[i.kind].action };
}

const SECTIONS: { needs: Item['needs']; title: string; intro: string; empty: string }[] = [
  { needs: 'operator', title: 'Needs an operator', intro: 'These wait for a person: nothing at Settle or Stripe will move them on.', empty: 'Nothing waits for an operator.' },
  { needs: 'no_action', title: 'No action needed', intro: 'These look stuck but resolve without an operator. Shown so you can tell them apart, not to act on.', empty: 'Nothing here.' },
];

export function AttentionPage() {
  const attention = useQuery({ ...trpc.admin.orders.attention.queryOptions({}), refetchInterval: 15_000 });
  return (
    <div>
      <PageHeader title="Needs attention" />
      <p className="muted">
        Oldest first. “Stuck for” counts from the order's last change, when the event arrived, when the second payment was made, or when the subscription was
        parked for review.
      </p>
      <QueryView query={attention} loadingLabel="Loading what needs attention…">
        {(data) => (
          <>
            {SECTIONS.map((section) => (
              <AttentionTable
                key={section.needs}
                id={section.needs}
                title={section.title}
                intro={section.intro}
                items={data.items.filter((i) => i.needs === section.needs)}
                counts={data.counts}
                total={section.needs === 'operator' ? data.totals.operator : data.totals.noAction}
                empty={section.empty}
              />
            ))}
          </>
        )}
      </QueryView>
    </div>
  );
}

function AttentionTable({ id, title, intro, items, counts, total, empty }: { id: string; title: string; intro: string; items: Item[]; counts: Attention['counts']; total: number; empty: string }) {
  const kinds = [...new Set(items.map((i) => i.kind))];
  return (
    <section className="card" aria-labelledby={`${id}-h`}>
      <h2 id={`${id}-h`}>
        {title} <Badge tone={id === 'operator' && total > 0 ? 'bad' : 'neutral'}>{plural(total, 'item')}</Badge>
      </h2>
      <p className="muted">{intro}</p>
      {kinds.length > 0 && (
        <p>
          {kinds.map((k) => (
            <span key={k} className="chip" title={KIND_META[k].action}>
              {KIND_META[k].label} {counts[k]}
            </span>
          ))}
        </p>
      )}
      {items.length === 0 ? (
        <Empty>{empty}</Empty>
      ) : (
        <div className="table-wrap">
          <table className="table">
            <caption className="visually-hidden">{title}, oldest first</caption>
            <thead>
              <tr>
                <th scope="col">What</th>
                <th scope="col">Order, event or subscription</th>
                <th scope="col" className="num">Amount</th>
                <th scope="col">Stuck for</th>
                <th scope="col">Since</th>
                <th scope="col">Detail and next step</th>
              </tr>
            </thead>
            <tbody>
              {items.map((i) => {
                const text = rowText(i);
                return (
                  <tr key={`${i.kind}-${i.orderId ?? ''}-${i.eventId ?? ''}-${i.subscriptionId ?? ''}-${i.since}`}>
                    <td>{KIND_META[i.kind].label}</td>
                    <td>
                      {i.subscriptionId ? (
                        <div>
                          <Link to={`/subscriptions/${encodeURIComponent(i.subscriptionId)}`} className="mono wrap" aria-label={`Subscription ${i.subscriptionId}`}>
                            {i.subscriptionId}
                          </Link>
                        </div>
                      ) : null}
                      {i.orderId ? (
                        <Link to={`/orders/${i.orderId}`} className="mono" aria-label={`Order ${i.orderId}`}>
                          {i.orderId.slice(0, 8)}…
                        </Link>
                      ) : null}
                      {i.eventId && (
                        <div>
                          <Link to={`/events?state=${i.kind === 'dead_letter' ? 'dead' : 'unmatched'}&event=${encodeURIComponent(i.eventId)}`} className="mono wrap">
                            {i.eventId}
                          </Link>{' '}
                          <code>{i.status}</code>
                        </div>
                      )}
                    </td>
                    <td className="num">{i.amount !== null && i.currency ? money(i.amount, i.currency) : <span className="muted">—</span>}</td>
                    <td>
                      <strong>{waited(i.stuckForSeconds)}</strong>
                    </td>
                    <td>{dateTime(i.since)}</td>
                    <td className="wrap">
                      {text.detail && <div className="error-text">{text.detail}</div>}
                      <small className="muted">{text.action}</small>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
