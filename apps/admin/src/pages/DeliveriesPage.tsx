import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { can, type Me } from '../lib/access.js';
import { BulkReplayForm } from '../components/BulkReplayForm.js';
import { ConfirmDialog } from '../components/ConfirmDialog.js';
import { Badge, Copyable, Empty, ErrorBox, PageHeader, Pager, Spinner, Time } from '../components/ui.js';
import { count, dateTime, duration } from '../lib/format.js';
import type { Tone } from '../lib/status.js';
import { Link } from '../router.js';
import { trpc, type RouterOutputs } from '../trpc.js';

type DeliveryState = RouterOutputs['admin']['deliveries']['list']['items'][number]['state'];
const DELIVERY_STATES = ['pending', 'dead', 'delivered'] as const satisfies readonly DeliveryState[];
const DELIVERY_STATE_META: Record<DeliveryState, { label: string; tone: Tone; hint: string }> = {
  pending: { label: 'Pending', tone: 'info', hint: 'Not accepted by the host yet: waiting for its turn, in flight, or between retries' },
  dead: { label: 'Dead', tone: 'bad', hint: 'Every attempt failed; replay once the host is fixed' },
  delivered: { label: 'Delivered', tone: 'good', hint: 'The host answered 2xx' },
};
const isState = (s: string | null): s is DeliveryState => s !== null && (DELIVERY_STATES as readonly string[]).includes(s);

function useRefreshDeliveries() {
  const queryClient = useQueryClient();
  return () => {
    void queryClient.invalidateQueries({ queryKey: trpc.admin.deliveries.pathKey() });
    void queryClient.invalidateQueries({ queryKey: trpc.admin.audit.list.pathKey() });
  };
}

/** Webhooks to the host app: health, the list by state, and bulk replay of dead ones. */
export function DeliveriesPage({ params, me }: { params: URLSearchParams; me: Me }) {
  const stateParam = params.get('state');
  const state: DeliveryState = isState(stateParam) ? stateParam : 'pending';
  const userId = params.get('user') ?? undefined;
  const status = useQuery({ ...trpc.admin.deliveries.status.queryOptions(), refetchInterval: 10_000 });
  const list = useInfiniteQuery({
    ...trpc.admin.deliveries.list.infiniteQueryOptions({ state, userId, limit: 50 }, { getNextPageParam: (last) => last.nextCursor ?? undefined }),
    refetchInterval: 10_000,
  });
  const items = list.data?.pages.flatMap((p) => p.items) ?? [];
  const userQuery = userId ? `&user=${encodeURIComponent(userId)}` : '';

  return (
    <div>
      <PageHeader title="Deliveries" />
      <p className="muted">
        Webhooks Settle sends to your app (<code>entitlements.updated</code>, <code>order.updated</code>), signed per Standard Webhooks, one user&apos;s changes in order.
      </p>
      {status.data && (
        <section className="card" aria-labelledby="host-h">
          <h2 id="host-h">Host</h2>
          {status.data.configured ? (
            <dl className="facts">
              <div className="fact"><dt>Endpoint</dt><dd><code>{status.data.host}</code></dd></div>
              <div className="fact"><dt>Waiting</dt><dd>{count(status.data.pending)}</dd></div>
              <div className="fact"><dt>Oldest waiting</dt><dd>{status.data.pending > 0 ? duration(status.data.oldestPendingAgeSeconds * 1000) : <span className="muted">up to date</span>}</dd></div>
              <div className="fact"><dt>Dead</dt><dd>{status.data.dead > 0 ? <Badge tone="bad">{count(status.data.dead)}</Badge> : 0}</dd></div>
              <div className="fact"><dt>Attempts per message</dt><dd>{status.data.maxAttempts}</dd></div>
              <div className="fact"><dt>Kept for</dt><dd>{status.data.retentionDays} days</dd></div>
            </dl>
          ) : (
            <p className="callout callout-info">
              No host is configured (<code>HOST_WEBHOOK_URL</code>, <code>HOST_WEBHOOK_SECRET</code>): changes are kept in the outbox ({count(status.data.pending)} waiting) for {status.data.retentionDays} days and sent, in order, once one is; older ones are dropped.
            </p>
          )}
        </section>
      )}
      <nav aria-label="Delivery states" className="tabs">
        {DELIVERY_STATES.map((s) => (
          <Link key={s} to={`/deliveries?state=${s}${userQuery}`} aria-current={s === state ? 'page' : undefined} title={DELIVERY_STATE_META[s].hint}>
            {DELIVERY_STATE_META[s].label}
          </Link>
        ))}
      </nav>
      <p className="muted">
        {DELIVERY_STATE_META[state].hint}.{' '}
        {userId && (
          <>
            User <code>{userId}</code> only — <Link to={`/deliveries?state=${state}`}>show everyone</Link>.
          </>
        )}
      </p>
      {state === 'dead' && can(me, 'operator') && <BulkReplay />}
      {list.isPending ? (
        <Spinner label="Loading deliveries…" />
      ) : list.isError ? (
        <ErrorBox error={list.error} onRetry={() => void list.refetch()} />
      ) : items.length === 0 ? (
        <Empty>No {DELIVERY_STATE_META[state].label.toLowerCase()} deliveries.</Empty>
      ) : (
        <>
          <div className="table-wrap">
            <table className="table">
              <caption className="visually-hidden">{DELIVERY_STATE_META[state].label} deliveries, newest first</caption>
              <thead>
                <tr>
                  <th scope="col">Delivery</th>
                  <th scope="col">Type</th>
                  <th scope="col">User</th>
                  <th scope="col" className="num">Sequence</th>
                  <th scope="col" className="num">Attempts</th>
                  <th scope="col">Last error</th>
                  <th scope="col">{state === 'pending' ? 'Next attempt' : state === 'dead' ? 'Dead since' : 'Delivered'}</th>
                </tr>
              </thead>
              <tbody>
                {items.map((d) => (
                  <tr key={d.deliveryId}>
                    <td><Link to={`/deliveries/${d.deliveryId}`} className="mono">{d.deliveryId.slice(0, 8)}…</Link></td>
                    <td><code>{d.type}</code></td>
                    <td><Link to={`/customers/${encodeURIComponent(d.userId)}`} className="mono truncate">{d.userId}</Link></td>
                    <td className="num">{d.sequence}</td>
                    <td className="num">{d.attempts}</td>
                    <td className="error-cell">{d.lastError ? <span className="truncate" title={d.lastError}>{d.lastError}</span> : <span className="muted">—</span>}</td>
                    <td><Time iso={state === 'pending' ? d.nextAttemptAt : state === 'dead' ? d.deadAt : d.deliveredAt} /></td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <Pager shown={items.length} hasMore={list.hasNextPage} loading={list.isFetchingNextPage} onMore={() => void list.fetchNextPage()} />
        </>
      )}
    </div>
  );
}

/** One delivery: what was sent, every attempt with the host's answer, and replay. */
export function DeliveryDetailPage({ deliveryId, me }: { deliveryId: string; me: Me }) {
  const delivery = useQuery({ ...trpc.admin.deliveries.get.queryOptions({ deliveryId }), refetchInterval: 5_000 });
  const [replaying, setReplaying] = useState(false);
  if (delivery.isPending) return <Spinner label="Loading the delivery…" />;
  if (delivery.isError) return <ErrorBox error={delivery.error} onRetry={() => void delivery.refetch()} />;
  const d = delivery.data;
  const meta = DELIVERY_STATE_META[d.state];
  return (
    <>
      <PageHeader title={`Delivery ${d.deliveryId.slice(0, 8)}…`}>
        <Badge tone={meta.tone}>{meta.label}</Badge>
        {can(me, 'operator') && (
          <button type="button" className="btn" onClick={() => setReplaying(true)}>
            {d.state === 'pending' ? 'Send now' : 'Replay'}
          </button>
        )}
      </PageHeader>
      <p className="muted status-hint">{meta.hint}.</p>
      <section className="card" aria-labelledby="delivery-facts">
        <h2 id="delivery-facts">Message</h2>
        <dl className="facts">
          <div className="fact"><dt>webhook-id</dt><dd><Copyable value={d.deliveryId} label="delivery id" /></dd></div>
          <div className="fact"><dt>Type</dt><dd><code>{d.type}</code></dd></div>
          <div className="fact"><dt>User</dt><dd><Link to={`/customers/${encodeURIComponent(d.userId)}`} className="mono">{d.userId}</Link></dd></div>
          <div className="fact"><dt>Sequence</dt><dd>{d.sequence}</dd></div>
          <div className="fact"><dt>Written</dt><dd>{dateTime(d.createdAt)}</dd></div>
          {d.state === 'pending' && <div className="fact"><dt>Next attempt</dt><dd><Time iso={d.nextAttemptAt} /></dd></div>}
          {d.deliveredAt && <div className="fact"><dt>Delivered</dt><dd>{dateTime(d.deliveredAt)}</dd></div>}
          {d.deadAt && <div className="fact"><dt>Dead since</dt><dd>{dateTime(d.deadAt)}</dd></div>}
          {d.replayedAt && <div className="fact"><dt>Last replayed</dt><dd>{dateTime(d.replayedAt)}</dd></div>}
        </dl>
        <h3>Body</h3>
        <pre className="payload">{JSON.stringify(d.payload, null, 2)}</pre>
      </section>
      <section className="card" aria-labelledby="attempts-h">
        <h2 id="attempts-h">Attempts ({d.attemptLog.length})</h2>
        {d.attemptLog.length === 0 ? (
          <Empty>Not attempted yet.</Empty>
        ) : (
          <ol className="attempts">
            {d.attemptLog.map((a, i) => (
              <li key={`${a.attemptedAt}-${i}`}>
                <span className="muted">
                  #{i + 1} · <Time iso={a.attemptedAt} /> · {a.durationMs} ms ·{' '}
                </span>
                {a.responseStatus !== null ? (
                  <Badge tone={a.responseStatus < 300 ? 'good' : 'bad'}>HTTP {a.responseStatus}</Badge>
                ) : (
                  <Badge tone="bad">no response</Badge>
                )}
                {(a.error || a.responseBody) && <pre className="error-text">{a.error ?? a.responseBody}</pre>}
              </li>
            ))}
          </ol>
        )}
      </section>
      {replaying && <ReplayOne deliveryId={d.deliveryId} pending={d.state === 'pending'} onClose={() => setReplaying(false)} />}
    </>
  );
}

/** A dead or delivered delivery starts its retry schedule over; a pending one is sent at the next chance. */
function ReplayOne({ deliveryId, pending: pendingNow, onClose }: { deliveryId: string; pending: boolean; onClose: () => void }) {
  // What the operator asked for, as the dialog opened: the delivery it sends may be delivered (no
  // longer pending) by the time the answer is shown.
  const [pending] = useState(pendingNow);
  const [reason, setReason] = useState('');
  const [done, setDone] = useState(false);
  const refresh = useRefreshDeliveries();
  const replay = useMutation(
    trpc.admin.deliveries.replay.mutationOptions({
      onSuccess: () => {
        setDone(true);
        refresh();
      },
    }),
  );
  return (
    <ConfirmDialog
      open
      title={done ? (pending ? 'Sending now' : 'Replay queued') : pending ? 'Send this webhook now?' : 'Send this webhook again?'}
      confirmLabel={done ? 'Close' : pending ? 'Send now' : 'Replay delivery'}
      busy={replay.isPending}
      confirmDisabled={!done && reason.trim().length < 3}
      onCancel={onClose}
      onConfirm={() => (done ? onClose() : replay.mutate({ deliveryId, reason: reason.trim() }))}
    >
      {done ? (
        <p role="status">
          {pending
            ? 'The delivery is due now: it is sent at the next chance, right after any older message of this user still waiting.'
            : 'The delivery is back in the queue with a fresh retry budget.'}
        </p>
      ) : (
        <>
          {pending ? (
            <p>
              It is not waiting for its next retry any more: it is sent at the next chance (the host fixed, say), after the older messages of this user still
              waiting, which are sent now too. Its attempts so far still count towards the retry limit.
            </p>
          ) : (
            <p>
              It is sent again with the same <code>webhook-id</code> and sequence, from the first step of the retry schedule. A host that already has it drops it.
            </p>
          )}
          <div className="field">
            <label htmlFor="delivery-replay-reason">Reason (required)</label>
            <input id="delivery-replay-reason" value={reason} onChange={(e) => setReason(e.target.value)} placeholder="e.g. host endpoint fixed, INC-77" />
          </div>
          {replay.isError && <ErrorBox error={replay.error} title="The replay was refused" />}
        </>
      )}
    </ConfirmDialog>
  );
}

type BulkRun = { replayedAt: string; requested: number };

function BulkReplay() {
  const [run, setRun] = useState<BulkRun | null>(null);
  const refresh = useRefreshDeliveries();
  const replay = useMutation(trpc.admin.deliveries.replay.mutationOptions({ onSuccess: () => refresh() }));
  return (
    <BulkReplayForm
      id="deliveries-bulk"
      title="Replay all dead deliveries"
      sinceLabel="Dead since"
      reasonPlaceholder="e.g. host deploy fixed, INC-77"
      confirmTitle="Replay every dead delivery?"
      confirmLabel="Replay all dead deliveries"
      consequences={(since) => (
        <p>
          Every delivery that died since <strong>{since ? dateTime(since.toISOString()) : '—'}</strong> (up to 10,000 per run) is sent again, each user&apos;s in sequence order.
        </p>
      )}
      pending={replay.isPending}
      error={replay.error}
      onReplay={async (since, reason) => {
        const r = await replay.mutateAsync({ deadSince: since, reason });
        setRun({ replayedAt: r.replayedAt, requested: r.requested });
      }}
    >
      {run && <BulkProgress run={run} onDone={refresh} />}
    </BulkReplayForm>
  );
}

/** Follows a bulk replay: the replayed deliveries leave `pending` as the host accepts them (or die again). */
function BulkProgress({ run, onDone }: { run: BulkRun; onDone: () => void }) {
  const [finished, setFinished] = useState(run.requested === 0);
  const counts = useQuery({
    ...trpc.admin.deliveries.replayProgress.queryOptions({ replayedAt: run.replayedAt }),
    refetchInterval: finished ? false : 1000,
  });
  const done = (counts.data?.delivered ?? 0) + (counts.data?.dead ?? 0);
  const complete = run.requested === 0 || (counts.data !== undefined && counts.data.pending === 0);
  useEffect(() => {
    if (complete && !finished) {
      setFinished(true);
      onDone();
    }
  }, [complete, finished, onDone]);
  if (run.requested === 0) return <p className="callout callout-info" role="status">No dead deliveries since then: nothing to replay.</p>;
  const deadAgain = counts.data?.dead ?? 0;
  return (
    <div className="progress-block" role="group" aria-label="Delivery replay progress">
      <label htmlFor="deliveries-progress">
        {complete ? 'Replay finished' : 'Replaying'}: {count(Math.min(done, run.requested))} of {count(run.requested)}
      </label>
      <progress id="deliveries-progress" max={run.requested} value={Math.min(done, run.requested)} />
      <p className="muted" role="status" aria-live="polite">
        {complete
          ? deadAgain > 0
            ? `${count(deadAgain)} delivery(ies) died again: the host still refuses them.`
            : 'The host accepted every replayed delivery.'
          : `Sending… ${count(counts.data?.delivered ?? 0)} accepted so far; the rest follow the retry schedule.`}
      </p>
    </div>
  );
}
