import { useQuery } from '@tanstack/react-query';
import { useState, type ReactNode } from 'react';
import { BarList, LineChart, StackedBars, type SeriesColor } from '../components/charts.js';
import { PageHeader, QueryView, Time } from '../components/ui.js';
import { count, duration, percent } from '../lib/format.js';
import { ORDER_STATUSES, ORDER_STATUS_META, SUBSCRIPTION_STATUSES, subscriptionStatusMeta } from '../lib/status.js';
import { money } from '../lib/format.js';
import { Link } from '../router.js';
import { trpc, type RouterOutputs } from '../trpc.js';

type Summary = RouterOutputs['admin']['metrics']['summary'];
type Bucket = Summary['series'][number];

const WINDOWS = [
  { key: '6h', label: '6 hours', windowHours: 6, bucketMinutes: 15 },
  { key: '24h', label: '24 hours', windowHours: 24, bucketMinutes: 60 },
  { key: '7d', label: '7 days', windowHours: 24 * 7, bucketMinutes: 6 * 60 },
] as const;
const STUCK_AFTER_MINUTES = 30;

const TONE_COLOR: Record<string, SeriesColor> = { neutral: 'grey', info: 'blue', good: 'green', warn: 'amber', bad: 'red' };

/** The API groups by date_bin from 2000-01-01 UTC; empty buckets are absent, so fill them with zeros. */
function fillBuckets(series: Bucket[], windowHours: number, bucketMinutes: number, now = Date.now()): Bucket[] {
  const step = bucketMinutes * 60_000;
  const origin = Date.UTC(2000, 0, 1);
  const first = origin + Math.floor((now - windowHours * 3_600_000 - origin) / step) * step;
  const byStart = new Map(series.map((b) => [new Date(b.bucketStart).getTime(), b]));
  const out: Bucket[] = [];
  for (let t = first; t <= now; t += step) {
    out.push(byStart.get(t) ?? { bucketStart: new Date(t).toISOString(), received: 0, processed: 0, failedAttempts: 0, dead: 0, p50LatencyMs: null, p95LatencyMs: null });
  }
  return out;
}

export function OverviewPage() {
  const [windowKey, setWindowKey] = useState<(typeof WINDOWS)[number]['key']>('24h');
  const w = WINDOWS.find((x) => x.key === windowKey) ?? WINDOWS[1];
  const summary = useQuery({
    ...trpc.admin.metrics.summary.queryOptions({ windowHours: w.windowHours, bucketMinutes: w.bucketMinutes, stuckAfterMinutes: STUCK_AFTER_MINUTES }),
    refetchInterval: 15_000,
    placeholderData: (prev) => prev,
  });

  return (
    <div>
      <PageHeader title="Overview">
        <div className="segmented" role="group" aria-label="Time window">
          {WINDOWS.map((x) => (
            <button key={x.key} type="button" className="btn btn-small" aria-pressed={x.key === windowKey} onClick={() => setWindowKey(x.key)}>
              {x.label}
            </button>
          ))}
        </div>
      </PageHeader>
      <QueryView query={summary} loadingLabel="Loading metrics…">
        {(data) => <Dashboard data={data} windowHours={w.windowHours} bucketMinutes={w.bucketMinutes} />}
      </QueryView>
      <SubscriptionNumbers />
    </div>
  );
}

/** Subscriptions by status and monthly recurring revenue by plan (catalogue prices of paying subscriptions). */
function SubscriptionNumbers() {
  const subs = useQuery({ ...trpc.admin.subscriptions.summary.queryOptions(), refetchInterval: 30_000 });
  return (
    <QueryView query={subs} loadingLabel="Loading subscriptions…">
      {(data) => {
        const total = Object.values(data.byStatus).reduce((n, v) => n + v, 0);
        return (
          <div className="grid-2">
            <section className="card" aria-labelledby="subs-by-status">
              <h2 id="subs-by-status">Subscriptions by status</h2>
              {total === 0 ? (
                <p className="empty">No subscriptions yet.</p>
              ) : (
                <BarList
                  label="Subscriptions by status"
                  items={SUBSCRIPTION_STATUSES.filter((s) => data.byStatus[s] > 0).map((s) => ({
                    key: s,
                    label: subscriptionStatusMeta(s).label,
                    value: data.byStatus[s],
                    color: TONE_COLOR[subscriptionStatusMeta(s).tone] ?? 'grey',
                    to: `/subscriptions?status=${s}`,
                  }))}
                />
              )}
            </section>
            <section className="card" aria-labelledby="mrr">
              <h2 id="mrr">Monthly recurring revenue by plan</h2>
              {data.mrrByPlan.length === 0 ? (
                <p className="empty">No paying subscriptions.</p>
              ) : (
                <table className="table">
                  <thead>
                    <tr><th scope="col">Plan</th><th scope="col" className="num">Subscriptions</th><th scope="col" className="num">MRR</th></tr>
                  </thead>
                  <tbody>
                    {data.mrrByPlan.map((m) => (
                      <tr key={`${m.plan}-${m.currency}`}><td>{m.plan}</td><td className="num">{m.subscriptions}</td><td className="num">{money(m.amount, m.currency)}</td></tr>
                    ))}
                  </tbody>
                </table>
              )}
            </section>
          </div>
        );
      }}
    </QueryView>
  );
}

function Dashboard({ data, windowHours, bucketMinutes }: { data: Summary; windowHours: number; bucketMinutes: number }) {
  const buckets = fillBuckets(data.series, windowHours, bucketMinutes);
  const times = buckets.map((b) => b.bucketStart);
  const totalOrders = Object.values(data.ordersByStatus).reduce((n, v) => n + v, 0);
  const inbox = data.inbox as Record<string, number | undefined>;
  const pendingEvents = (inbox.pending ?? 0) + (inbox.failed ?? 0);
  return (
    <>
      <section aria-label="Key numbers" className="stats">
        <Stat label="Orders" value={count(totalOrders)} to="/orders" />
        <NeedsOperatorStat />
        <Stat label={`Stuck > ${STUCK_AFTER_MINUTES} min`} value={count(data.stuckOrders)} tone={data.stuckOrders > 0 ? 'warn' : 'good'} hint="processing, requires action or in review" to={`/orders?stuck=${STUCK_AFTER_MINUTES}`} />
        <Stat label="Dead letters" value={count(data.deadLetters)} tone={data.deadLetters > 0 ? 'bad' : 'good'} to="/events?state=dead" />
        <Stat label="Unmatched events" value={count(inbox.unmatched ?? 0)} tone={(inbox.unmatched ?? 0) > 0 ? 'warn' : 'good'} hint="no order found for them" to="/events?state=unmatched" />
        <Stat label="Events waiting" value={count(pendingEvents)} hint={data.inbox.oldestDueAgeSeconds > 0 ? `oldest due ${duration(data.inbox.oldestDueAgeSeconds * 1000)}` : undefined} to="/events?state=pending" />
        <Stat label="Error rate" value={percent(data.errorRate)} tone={data.errorRate > 0.05 ? 'bad' : data.errorRate > 0 ? 'warn' : 'good'} hint="failed attempts per event" />
        <Stat label="Latency p50 / p95" value={`${duration(data.latencyMs.p50)} / ${duration(data.latencyMs.p95)}`} hint={`${count(data.latencyMs.count)} events, replays left out`} />
        <DriftStat drift={data.drift} />
      </section>

      <div className="grid-2">
        <section className="card" aria-labelledby="by-status">
          <h2 id="by-status">Orders by status</h2>
          {totalOrders === 0 ? (
            <p className="empty">No orders yet.</p>
          ) : (
            <BarList
              label="Orders by status"
              items={ORDER_STATUSES.filter((s) => (data.ordersByStatus[s] ?? 0) > 0).map((s) => ({
                key: s,
                label: ORDER_STATUS_META[s].label,
                value: data.ordersByStatus[s] ?? 0,
                color: TONE_COLOR[ORDER_STATUS_META[s].tone] ?? 'grey',
                to: `/orders?status=${s}`,
              }))}
            />
          )}
        </section>
        <section className="card" aria-labelledby="status-mix">
          <h2 id="status-mix">Event status mix</h2>
          <StackedBars
            label={`Events received per ${bucketMinutes} minutes, by state`}
            times={times}
            series={[
              { name: 'processed', color: 'green', values: buckets.map((b) => b.processed) },
              { name: 'waiting or retrying', color: 'amber', values: buckets.map((b) => Math.max(0, b.received - b.processed - b.dead)) },
              { name: 'dead', color: 'red', values: buckets.map((b) => b.dead) },
            ]}
          />
        </section>
        <section className="card" aria-labelledby="error-rate">
          <h2 id="error-rate">Error rate</h2>
          <LineChart
            label="Failed attempts per event received, over time"
            times={times}
            format={(v) => percent(v, 0)}
            series={[{ name: 'failed attempts / event', color: 'red', values: buckets.map((b) => (b.received ? b.failedAttempts / b.received : null)) }]}
          />
        </section>
        <section className="card" aria-labelledby="latency">
          <h2 id="latency">Processing latency</h2>
          <LineChart
            label="Event processing latency p50 and p95, over time"
            times={times}
            format={duration}
            series={[
              { name: 'p50', color: 'blue', values: buckets.map((b) => b.p50LatencyMs) },
              { name: 'p95', color: 'violet', values: buckets.map((b) => b.p95LatencyMs) },
            ]}
          />
        </section>
      </div>
    </>
  );
}

/** What waits for a person (see the Needs attention page), linked there. */
function NeedsOperatorStat() {
  const attention = useQuery({ ...trpc.admin.orders.attention.queryOptions({}), refetchInterval: 15_000 });
  const n = attention.data ? attention.data.totals.operator : null;
  return (
    <Stat
      label="Needs an operator"
      value={n === null ? '…' : count(n)}
      tone={n === null ? undefined : n > 0 ? 'bad' : 'good'}
      hint="overdue payments, reviews, dead letters"
      to="/attention"
    />
  );
}

function DriftStat({ drift }: { drift: Summary['drift'] }) {
  const d = drift;
  return (
    <Stat
      label="Drift vs Stripe (24 h)"
      value={count(d.disagreements24h)}
      tone={d.disagreements24h > 0 ? 'warn' : 'good'}
      hint={d.lastRunAt ? undefined : 'reconciler has not run yet'}
      extra={d.lastRunAt ? <>last run <Time iso={d.lastRunAt} /></> : undefined}
    />
  );
}

function Stat({ label, value, tone, hint, to, extra }: { label: string; value: string; tone?: 'good' | 'warn' | 'bad'; hint?: string | undefined; to?: string; extra?: ReactNode }) {
  const body = (
    <>
      <span className="stat-label">{label}</span>
      <span className={`stat-value ${tone ? `tone-${tone}` : ''}`}>{value}</span>
      {hint && <span className="stat-hint">{hint}</span>}
      {extra && <span className="stat-hint">{extra}</span>}
    </>
  );
  return to ? (
    <Link to={to} className="stat card">
      {body}
    </Link>
  ) : (
    <div className="stat card">{body}</div>
  );
}
