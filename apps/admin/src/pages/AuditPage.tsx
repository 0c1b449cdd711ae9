import { useInfiniteQuery } from '@tanstack/react-query';
import { useEffect, useState, type FormEvent } from 'react';
import { Empty, ErrorBox, PageHeader, Spinner, Time, Pager } from '../components/ui.js';
import { dateTime, fromLocalInput } from '../lib/format.js';
import { Link, setParams } from '../router.js';
import { trpc } from '../trpc.js';

const ACTIONS = [
  { value: '', label: 'Any action' },
  { value: 'orders.', label: 'Orders (all)' },
  { value: 'orders.override', label: 'Order override' },
  { value: 'orders.reconcile', label: 'Order reconcile' },
  { value: 'orders.refund', label: 'Order refund' },
  { value: 'events.', label: 'Event replays (all)' },
  { value: 'flags.', label: 'Flag changes' },
  { value: 'users.', label: 'Accounts' },
  { value: 'auth.', label: 'Sign-ins and sign-outs' },
];

/** Targets look like `order:<uuid>` or `event:<id>`: link them to their page. */
function TargetLink({ target }: { target: string | null }) {
  if (!target) return <span className="muted">—</span>;
  const [kind, ...rest] = target.split(':');
  const id = rest.join(':');
  if (kind === 'order') return <Link to={`/orders/${id}`} className="mono">{target.slice(0, 14)}…</Link>;
  if (kind === 'event') return <Link to={`/events?state=dead&event=${encodeURIComponent(id)}`} className="mono">{target}</Link>;
  return <span className="mono">{target}</span>;
}

export function AuditPage({ params }: { params: URLSearchParams }) {
  const filters = { actor: params.get('actor') ?? '', action: params.get('action') ?? '', target: params.get('target') ?? '', from: params.get('from') ?? '', to: params.get('to') ?? '' };
  const [draft, setDraft] = useState(filters);
  const key = JSON.stringify(filters);
  useEffect(() => setDraft(JSON.parse(key) as typeof filters), [key]);

  const audit = useInfiniteQuery({
    ...trpc.admin.audit.list.infiniteQueryOptions(
      {
        actor: filters.actor || undefined,
        action: filters.action || undefined,
        target: filters.target || undefined,
        from: fromLocalInput(filters.from) ?? undefined,
        to: fromLocalInput(filters.to) ?? undefined,
        limit: 50,
      },
      { getNextPageParam: (last) => last.nextCursor ?? undefined },
    ),
    refetchInterval: 15_000,
  });
  const apply = (e: FormEvent) => {
    e.preventDefault();
    setParams('/audit', params, draft);
  };
  const items = audit.data?.pages.flatMap((p) => p.items) ?? [];
  const filtered = Object.values(filters).some(Boolean);

  return (
    <div>
      <PageHeader title="Audit log" />
      <form className="filters card" onSubmit={apply} role="search" aria-label="Filter the audit log">
        <div className="field">
          <label htmlFor="a-actor">Actor</label>
          <input id="a-actor" value={draft.actor} onChange={(e) => setDraft({ ...draft, actor: e.target.value })} placeholder="admin:ops@… or token:name" />
        </div>
        <div className="field">
          <label htmlFor="a-action">Action</label>
          <select id="a-action" value={draft.action} onChange={(e) => setDraft({ ...draft, action: e.target.value })}>
            {ACTIONS.map((a) => (
              <option key={a.value} value={a.value}>{a.label}</option>
            ))}
            {draft.action && !ACTIONS.some((a) => a.value === draft.action) && <option value={draft.action}>{draft.action}</option>}
          </select>
        </div>
        <div className="field">
          <label htmlFor="a-target">Target</label>
          <input id="a-target" value={draft.target} onChange={(e) => setDraft({ ...draft, target: e.target.value })} placeholder="order:<id>, event:<id>" />
        </div>
        <div className="field">
          <label htmlFor="a-from">From</label>
          <input id="a-from" type="datetime-local" value={draft.from} onChange={(e) => setDraft({ ...draft, from: e.target.value })} />
        </div>
        <div className="field">
          <label htmlFor="a-to">To</label>
          <input id="a-to" type="datetime-local" value={draft.to} onChange={(e) => setDraft({ ...draft, to: e.target.value })} />
        </div>
        <div className="filters-actions">
          <button type="submit" className="btn btn-primary">Apply</button>
          {filtered && (
            <button type="button" className="btn" onClick={() => setParams('/audit', params, { actor: null, action: null, target: null, from: null, to: null })}>
              Clear
            </button>
          )}
        </div>
      </form>
      {audit.isPending ? (
        <Spinner label="Loading the audit log…" />
      ) : audit.isError ? (
        <ErrorBox error={audit.error} onRetry={() => void audit.refetch()} />
      ) : items.length === 0 ? (
        <Empty>{filtered ? 'No entry matches these filters.' : 'No admin actions yet.'}</Empty>
      ) : (
        <>
          <div className="table-wrap">
            <table className="table audit-table">
              <caption className="visually-hidden">Admin actions, newest first</caption>
              <thead>
                <tr>
                  <th scope="col">When</th>
                  <th scope="col">Actor</th>
                  <th scope="col">Action</th>
                  <th scope="col">Target</th>
                  <th scope="col">Reason</th>
                  <th scope="col">Details</th>
                </tr>
              </thead>
              <tbody>
                {items.map((a) => (
                  <tr key={a.id}>
                    <td title={dateTime(a.at)}><Time iso={a.at} /></td>
                    <td className="truncate" title={a.actor}>{a.actor}</td>
                    <td><code>{a.action}</code></td>
                    <td><TargetLink target={a.target} /></td>
                    <td className="reason-cell">{a.reason ?? <span className="muted">—</span>}</td>
                    <td className="details-cell">
                      {Object.keys(a.details ?? {}).length > 0 ? (
                        <details>
                          <summary>{Object.entries(a.details).slice(0, 2).map(([k, v]) => `${k}: ${typeof v === 'object' ? '…' : String(v)}`).join(', ')}</summary>
                          <pre>{JSON.stringify(a.details, null, 2)}</pre>
                        </details>
                      ) : (
                        <span className="muted">—</span>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <Pager shown={items.length} hasMore={audit.hasNextPage} loading={audit.isFetchingNextPage} onMore={() => void audit.fetchNextPage()} />
        </>
      )}
    </div>
  );
}
