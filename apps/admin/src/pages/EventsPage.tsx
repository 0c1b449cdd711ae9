import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState, type ReactNode } from 'react';
import { can, type Me } from '../lib/access.js';
import { BulkReplayForm } from '../components/BulkReplayForm.js';
import { ConfirmDialog } from '../components/ConfirmDialog.js';
import { ReplayDialog } from '../components/ReplayDialog.js';
import { Badge, Empty, ErrorBox, PageHeader, Spinner, Time, Pager } from '../components/ui.js';
import { count, dateTime, fromLocalInput } from '../lib/format.js';
import { INBOX_STATES, INBOX_STATE_META, type InboxState } from '../lib/status.js';
import { Link } from '../router.js';
import { trpc, type RouterOutputs } from '../trpc.js';

type EventItem = RouterOutputs['admin']['events']['list']['items'][number];
const isState = (s: string | null): s is InboxState => s !== null && (INBOX_STATES as readonly string[]).includes(s);

export function EventsPage({ params, me }: { params: URLSearchParams; me: Me }) {
  const stateParam = params.get('state');
  const state: InboxState = isState(stateParam) ? stateParam : 'dead';
  const highlight = params.get('event');
  const events = useInfiniteQuery({
    ...trpc.admin.events.list.infiniteQueryOptions({ state, limit: 50 }, { getNextPageParam: (last) => last.nextCursor ?? undefined }),
    refetchInterval: 10_000,
  });
  const [replaying, setReplaying] = useState<EventItem | null>(null);
  const items = events.data?.pages.flatMap((p) => p.items) ?? [];
  const operator = can(me, 'operator');

  return (
    <div>
      <PageHeader title="Events" />
      <nav aria-label="Event states" className="tabs">
        {INBOX_STATES.map((s) => (
          <Link key={s} to={`/events?state=${s}`} aria-current={s === state ? 'page' : undefined} title={INBOX_STATE_META[s].hint}>
            {INBOX_STATE_META[s].label}
          </Link>
        ))}
      </nav>
      <p className="muted">{INBOX_STATE_META[state].hint}.</p>

      <ApiVersionWarning />
      {operator && <RecoverMissedEvents />}
      {state === 'dead' && operator && <BulkReplay />}

      {events.isPending ? (
        <Spinner label="Loading events…" />
      ) : events.isError ? (
        <ErrorBox error={events.error} onRetry={() => void events.refetch()} />
      ) : items.length === 0 ? (
        <Empty>No {INBOX_STATE_META[state].label.toLowerCase()} events.</Empty>
      ) : (
        <>
          <div className="table-wrap">
            <table className="table">
              <caption className="visually-hidden">{INBOX_STATE_META[state].label} events, newest first</caption>
              <thead>
                <tr>
                  <th scope="col">Event</th>
                  <th scope="col">Type</th>
                  <th scope="col">Order</th>
                  <th scope="col" className="num">Attempts</th>
                  <th scope="col">Last error</th>
                  <th scope="col">Received</th>
                  {operator && <th scope="col"><span className="visually-hidden">Actions</span></th>}
                </tr>
              </thead>
              <tbody>
                {items.map((e) => (
                  <tr key={e.eventId} className={e.eventId === highlight ? 'row-highlight' : undefined}>
                    <td className="mono truncate" title={e.eventId}>{e.eventId}</td>
                    <td><code>{e.type}</code></td>
                    <td>{e.orderId ? <Link to={`/orders/${e.orderId}`} className="mono">{e.orderId.slice(0, 8)}…</Link> : <span className="muted">—</span>}</td>
                    <td className="num">{e.attempts}{e.errorCount > 0 && <span className="muted"> ({e.errorCount} err)</span>}</td>
                    <td className="error-cell">
                      {e.lastError ? (
                        <details>
                          <summary className="truncate">{e.lastError.split('\n')[0]}</summary>
                          <EventErrors eventId={e.eventId} />
                        </details>
                      ) : (
                        <span className="muted">—</span>
                      )}
                    </td>
                    <td><Time iso={e.receivedAt} /></td>
                    {operator && (
                      <td>
                        <button type="button" className="btn btn-small" onClick={() => setReplaying(e)} aria-label={`Replay event ${e.eventId}`}>
                          Replay
                        </button>
                      </td>
                    )}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <Pager shown={items.length} hasMore={events.hasNextPage} loading={events.isFetchingNextPage} onMore={() => void events.fetchNextPage()} />
        </>
      )}
      {replaying && <ReplayDialog event={replaying} onClose={() => setReplaying(null)} />}
    </div>
  );
}

function EventErrors({ eventId }: { eventId: string }) {
  const ev = useQuery(trpc.admin.events.get.queryOptions({ eventId }));
  if (ev.isPending) return <Spinner label="Loading attempts…" />;
  if (ev.isError) return <ErrorBox error={ev.error} />;
  return (
    <ol className="attempts">
      {ev.data.errors.map((a) => (
        <li key={`${a.attempt}-${a.at}`}>
          <span className="muted">#{a.attempt} · <Time iso={a.at} /> · {a.transient ? 'transient' : 'permanent'}</span>
          <pre className="error-text">{a.error}</pre>
        </li>
      ))}
    </ol>
  );
}

function useRefreshEvents() {
  const queryClient = useQueryClient();
  return () => {
    void queryClient.invalidateQueries({ queryKey: trpc.admin.events.pathKey() });
    void queryClient.invalidateQueries({ queryKey: trpc.admin.audit.list.pathKey() });
  };
}

type BulkRun = { since: string; requested: number; startedAt: number };

function BulkReplay() {
  const [run, setRun] = useState<BulkRun | null>(null);
  const refresh = useRefreshEvents();
  const replay = useMutation(trpc.admin.events.replay.mutationOptions({ onSuccess: () => refresh() }));
  return (
    <BulkReplayForm
      id="bulk"
      title="Replay all dead events"
      sinceLabel="Received since"
      reasonPlaceholder="e.g. database outage over, INC-1234"
      confirmTitle="Replay every dead event?"
      confirmLabel="Replay all dead events"
      consequences={(since) => (
        <p>
          Every dead event received since <strong>{since ? dateTime(since.toISOString()) : '—'}</strong> (up to 10,000 per run) goes back in the queue with a fresh retry budget. Processing is idempotent: nothing is granted twice.
        </p>
      )}
      pending={replay.isPending}
      error={replay.error}
      onReplay={async (since, reason) => {
        const r = await replay.mutateAsync({ deadSince: since, reason });
        setRun({ since, requested: r.requested, startedAt: Date.now() });
      }}
    >
      {run && <BulkProgress run={run} onDone={refresh} />}
    </BulkReplayForm>
  );
}

/** Follows a bulk replay: the requeued events leave pending/failed as workers process them. */
function BulkProgress({ run, onDone }: { run: BulkRun; onDone: () => void }) {
  const [finished, setFinished] = useState(run.requested === 0);
  const counts = useQuery({
    ...trpc.admin.events.stateCounts.queryOptions({ receivedFrom: run.since }),
    refetchInterval: finished ? false : 1000,
  });
  const waiting = (counts.data?.pending ?? 0) + (counts.data?.failed ?? 0);
  const done = counts.data ? Math.max(0, run.requested - Math.min(run.requested, waiting)) : 0;
  const complete = run.requested === 0 || (counts.data !== undefined && done >= run.requested);
  useEffect(() => {
    if (complete && !finished) {
      setFinished(true);
      onDone();
    }
  }, [complete, finished, onDone]);
  if (run.requested === 0) return <p className="callout callout-info" role="status">No dead events since then: nothing to replay.</p>;
  const deadAgain = counts.data?.dead ?? 0;
  return (
    <div className="progress-block" role="group" aria-label="Bulk replay progress">
      <label htmlFor="bulk-progress">
        {complete ? 'Replay finished' : 'Replaying'}: {count(done)} of {count(run.requested)}
      </label>
      <progress id="bulk-progress" max={run.requested} value={done} aria-valuetext={`${done} of ${run.requested} events processed`} />
      <p className="muted" role="status" aria-live="polite">
        {complete ? (deadAgain > 0 ? `${count(deadAgain)} event(s) are dead again: their cause is not fixed yet.` : 'All replayed events were processed.') : (counts.data?.failed ?? 0) > 0 ? `Workers are processing the replayed events… ${count(counts.data?.failed ?? 0)} failed again and will be retried with backoff.` : 'Workers are processing the replayed events…'}
      </p>
      {complete && <Badge tone={deadAgain > 0 ? 'warn' : 'good'}>{deadAgain > 0 ? 'check dead letters' : 'done'}</Badge>}
    </div>
  );
}

/** Events rendered in another API version than the one Settle pins: fields may have moved. */
function ApiVersionWarning() {
  const versions = useQuery({ ...trpc.admin.events.apiVersions.queryOptions(), refetchInterval: 60_000 });
  const others = versions.data?.others ?? [];
  if (others.length === 0) return null;
  return (
    <p className="callout callout-warn" role="status">
      Stripe sent events in {others.map((o) => `${o.apiVersion} (${count(o.count)})`).join(', ')} in the last 24 hours; Settle pins{' '}
      <code>{versions.data?.pinned}</code>. Set the endpoint's API version in Stripe's dashboard to the pinned one (or
      <code> STRIPE_API_VERSION</code> to the endpoint's) so every field is where Settle reads it.
    </p>
  );
}

const RECOVERY_PHASES = { undelivered: 'Reading events Stripe could not deliver', window: 'Reading every event since the window start', done: 'Finished' } as const;

/**
 * Stores every event Stripe still has (30 days) that Settle never received: after an outage
 * longer than Stripe's retries, or a misconfigured endpoint.
 */
function RecoverMissedEvents() {
  const [reason, setReason] = useState('');
  const [since, setSince] = useState('');
  const [confirming, setConfirming] = useState(false);
  const refresh = useRefreshEvents();
  const sinceIso = since ? fromLocalInput(since) : null;
  const recover = useMutation(
    trpc.admin.events.recover.mutationOptions({
      onSuccess: () => {
        setConfirming(false);
        refresh();
      },
    }),
  );
  const progress = useQuery({ ...trpc.admin.events.recoveryProgress.queryOptions(), refetchInterval: recover.isPending ? 500 : false });
  const p = progress.data;
  const valid = reason.trim().length >= 3 && (since === '' || sinceIso !== null);
  const phaseStep = !p ? 0 : p.phase === 'undelivered' ? 1 : p.phase === 'window' ? 2 : 3;
  return (
    <section className="card" aria-labelledby="recover-h">
      <h2 id="recover-h">Recover missed events</h2>
      <p className="muted">
        Reads Stripe's Events API (the last 30 days) and stores every event Settle does not have, through the same inbox as webhooks. Safe to run any time: events already stored are skipped.
      </p>
      <ReviewFirstForm valid={valid} onReview={() => setConfirming(true)}>
        <div className="field">
          <label htmlFor="recover-since">Recover since (optional)</label>
          <input id="recover-since" type="datetime-local" value={since} onChange={(e) => setSince(e.target.value)} />
        </div>
        <div className="field field-grow">
          <label htmlFor="recover-reason">Why recover (required)</label>
          <input id="recover-reason" value={reason} onChange={(e) => setReason(e.target.value)} placeholder="e.g. endpoint down 4 days, INC-1234" />
        </div>
        <SubmitAction disabled={!valid || recover.isPending}>Recover missed events</SubmitAction>
      </ReviewFirstForm>
      {(recover.isPending || recover.data || p) && (
        <div className="progress-block" role="group" aria-label="Recovery progress">
          <label htmlFor="recover-progress">
            {recover.isPending ? (p?.phase && p.running ? RECOVERY_PHASES[p.phase] : 'Starting') : 'Last recovery'}: {count(p?.listed ?? 0)} listed, {count(p?.stored ?? 0)} stored
          </label>
          <progress id="recover-progress" max={3} value={recover.isPending ? Math.min(phaseStep, 2) : 3} aria-valuetext={`step ${phaseStep} of 3`} />
          <p className="muted" role="status" aria-live="polite">
            {recover.data
              ? `Done: ${count(recover.data.listed)} events listed by Stripe, ${count(recover.data.stored)} were missing and are now stored and being processed, ${count(recover.data.alreadyKnown)} were already known.`
              : p?.error
                ? `The last recovery failed: ${p.error}`
                : recover.isPending
                  ? 'Reading Stripe… events found missing are processed as they are stored.'
                  : p?.finishedAt
                    ? `Last run finished ${new Date(p.finishedAt).toLocaleString()}: ${count(p.stored)} stored, ${count(p.alreadyKnown)} already known.`
                    : ''}
          </p>
        </div>
      )}
      {recover.isError && <ErrorBox error={recover.error} title="Recovery failed" />}
      <ConfirmDialog
        open={confirming}
        title="Recover missed events from Stripe?"
        confirmLabel="Recover"
        busy={recover.isPending}
        onCancel={() => setConfirming(false)}
        onConfirm={() => recover.mutate({ reason: reason.trim(), ...(sinceIso ? { since: sinceIso } : {}) })}
      >
        <p>
          Settle lists the events Stripe could not deliver, then every event created since{' '}
          <strong>{sinceIso ? new Date(sinceIso).toLocaleString() : 'shortly before the newest stored event'}</strong>, and stores those it does not have. Each is processed like a webhook: nothing is applied twice.
        </p>
        <p>Reason: <q>{reason.trim()}</q></p>
      </ConfirmDialog>
    </section>
  );
}

/** A bulk action's form: submitting (when valid) opens its confirmation instead of acting. */
function ReviewFirstForm({ valid, onReview, children }: { valid: boolean; onReview: () => void; children: ReactNode }) {
  return (
    <form
      className="inline-form"
      noValidate
      onSubmit={(e) => {
        e.preventDefault();
        if (valid) onReview();
      }}
    >
      {children}
    </form>
  );
}

function SubmitAction({ disabled, children }: { disabled: boolean; children: ReactNode }) {
  return (
    <div className="filters-actions">
      <button type="submit" className="btn btn-primary" disabled={disabled}>
        {children}
      </button>
    </div>
  );
}
