import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { can, type Me } from '../lib/access.js';
import { ConfirmDialog } from '../components/ConfirmDialog.js';
import { Badge, ErrorBox, PageHeader, QueryView, Time } from '../components/ui.js';
import { count, duration, plural } from '../lib/format.js';
import { ORDER_STATUS_META, type OrderStatus } from '../lib/status.js';
import { Link } from '../router.js';
import { trpc, type RouterInputs, type RouterOutputs } from '../trpc.js';

type Flag = RouterOutputs['admin']['flags']['get'];
type Mode = RouterInputs['admin']['flags']['set']['mode'];
const MODES: { mode: Mode; label: string; help: string }[] = [
  { mode: 'legacy', label: 'Legacy', help: 'Every new order uses the legacy handler (the kill switch).' },
  { mode: 'shadow', label: 'Shadow', help: 'Legacy decides; the new handler runs beside it for the rollout share and its disagreements are recorded.' },
  { mode: 'new', label: 'New', help: 'The rollout share of new orders uses the new handler; the rest stay on legacy.' },
];

export function RolloutPage({ me }: { me: Me }) {
  const flag = useQuery({ ...trpc.admin.flags.get.queryOptions(), refetchInterval: 10_000 });
  const report = useQuery({ ...trpc.admin.rollout.report.queryOptions({ examplesPerKind: 5 }), refetchInterval: 30_000 });
  return (
    <div>
      <PageHeader title="Rollout" />
      <div className="grid-2">
        <section className="card" aria-labelledby="flag-h">
          <h2 id="flag-h">Handler flag</h2>
          <QueryView query={flag} loadingLabel="Loading the flag…">
            {(f) => <FlagState flag={f} />}
          </QueryView>
        </section>
        {can(me, 'owner') ? (
          <QueryView query={flag}>{(f) => <FlagForm flag={f} />}</QueryView>
        ) : (
          <section className="card">
            <h2>Change the rollout</h2>
            <p className="muted">Only an owner can change the rollout or pull the kill switch (you are {me.role}).</p>
          </section>
        )}
      </div>
      <section className="card" aria-labelledby="shadow-h">
        <h2 id="shadow-h">Shadow disagreement report</h2>
        <QueryView query={report} loadingLabel="Loading the report…">
          {(r) => <Report report={r} />}
        </QueryView>
      </section>
    </div>
  );
}

function FlagState({ flag }: { flag: Flag }) {
  return (
    <dl className="facts">
      <div className="fact">
        <dt>Mode</dt>
        <dd>
          <Badge tone={flag.mode === 'legacy' ? 'warn' : flag.mode === 'new' ? 'good' : 'info'}>{flag.mode}</Badge>
          {!flag.defined && <span className="muted"> (not set: new orders use {flag.fallbackHandler})</span>}
        </dd>
      </div>
      <div className="fact">
        <dt>Rollout</dt>
        <dd>
          {flag.mode === 'legacy' ? (
            'none: every new order runs on the legacy handler'
          ) : (
            <>
              <span className="meter" aria-hidden="true"><span style={{ width: `${flag.rolloutPercent}%` }} /></span> {rolloutSummary(flag.mode, flag.rolloutPercent)}
            </>
          )}
        </dd>
      </div>
      <div className="fact">
        <dt>Source</dt>
        <dd>
          {flag.source} <Badge tone={flag.sourceUp ? 'good' : 'bad'}>{flag.sourceUp ? 'reachable' : 'unreachable'}</Badge>
          {flag.lastError && <span className="field-error"> {flag.lastError}</span>}
        </dd>
      </div>
      <div className="fact">
        <dt>Last refresh</dt>
        <dd>
          <Time iso={flag.lastRefreshAt} /> <span className="muted">(every {duration(flag.refreshIntervalMs)})</span>
        </dd>
      </div>
      {flag.stored && (flag.stored.mode !== flag.mode || (flag.stored.mode !== 'legacy' && flag.stored.rolloutPercent !== flag.rolloutPercent)) && (
        <p className="callout callout-info" role="status">
          Saved as {rolloutSummary(flag.stored.mode, flag.stored.rolloutPercent)}; instances switch at their next refresh (within {duration(flag.refreshIntervalMs)}).
        </p>
      )}
      {flag.stored && (
        <div className="fact">
          <dt>Last change</dt>
          <dd>
            {rolloutSummary(flag.stored.mode, flag.stored.rolloutPercent)} by {flag.stored.updatedBy} <Time iso={flag.stored.updatedAt} />
          </dd>
        </div>
      )}
    </dl>
  );
}

function FlagForm({ flag }: { flag: Flag }) {
  const queryClient = useQueryClient();
  const [mode, setMode] = useState<Mode>(flag.mode);
  const [percent, setPercent] = useState(flag.rolloutPercent);
  const [reason, setReason] = useState('');
  const [pending, setPending] = useState<{ mode: Mode; rolloutPercent: number; kill: boolean } | null>(null);
  const [done, setDone] = useState<string | null>(null);
  useEffect(() => {
    setMode(flag.mode);
    setPercent(flag.rolloutPercent);
  }, [flag.mode, flag.rolloutPercent]);
  const set = useMutation(
    trpc.admin.flags.set.mutationOptions({
      onSuccess: (r) => {
        setPending(null);
        setReason('');
        setDone(`Saved: ${r.mode}, ${r.rolloutPercent} %. Every instance applies it within ${duration(r.appliesWithinMs)}.`);
        void queryClient.invalidateQueries({ queryKey: trpc.admin.flags.pathKey() });
        void queryClient.invalidateQueries({ queryKey: trpc.admin.rollout.pathKey() });
        void queryClient.invalidateQueries({ queryKey: trpc.admin.audit.list.pathKey() });
      },
      // A refusal may come after part of the change took effect (its message says which part,
      // and it is audited): show the flag as it now is.
      onError: () => {
        void queryClient.invalidateQueries({ queryKey: trpc.admin.flags.pathKey() });
        void queryClient.invalidateQueries({ queryKey: trpc.admin.audit.list.pathKey() });
      },
    }),
  );
  const reasonOk = reason.trim().length >= 3;
  const unchanged = mode === flag.mode && percent === flag.rolloutPercent;
  return (
    <section className="card" aria-labelledby="change-h">
      <h2 id="change-h">Change the rollout</h2>
      <form
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          setDone(null);
          set.reset();
          if (reasonOk && !unchanged) setPending({ mode, rolloutPercent: percent, kill: false });
        }}
      >
        <fieldset className="radios">
          <legend>Mode</legend>
          {MODES.map((m) => (
            <label key={m.mode} className="radio">
              <input type="radio" name="mode" value={m.mode} checked={mode === m.mode} onChange={() => setMode(m.mode)} />
              <span>
                <strong>{m.label}</strong> <small className="muted">{m.help}</small>
              </span>
            </label>
          ))}
        </fieldset>
        <div className="field">
          <label htmlFor="rollout-percent">Rollout: {percent} %</label>
          <div className="range-row">
            <input id="rollout-percent" type="range" min={0} max={100} step={1} value={percent} onChange={(e) => setPercent(Number(e.target.value))} disabled={mode === 'legacy'} aria-valuetext={`${percent} percent`} />
            <input type="number" min={0} max={100} value={percent} onChange={(e) => setPercent(Math.max(0, Math.min(100, Number(e.target.value) || 0)))} disabled={mode === 'legacy'} aria-label="Rollout percent" className="input-narrow" />
          </div>
        </div>
        <div className="field">
          <label htmlFor="rollout-reason">Reason (required)</label>
          <input id="rollout-reason" value={reason} onChange={(e) => setReason(e.target.value)} placeholder="e.g. shadow clean for 48 h, widening" />
        </div>
        <div className="button-row">
          <button type="submit" className="btn btn-primary" disabled={!reasonOk || unchanged}>
            Review change…
          </button>
          <button type="button" className="btn btn-danger" disabled={!reasonOk || flag.mode === 'legacy'} onClick={() => setPending({ mode: 'legacy', rolloutPercent: 0, kill: true })} title={reasonOk ? undefined : 'Enter a reason first'}>
            Kill switch: all new orders on legacy
          </button>
        </div>
        {!reasonOk && <small className="muted">A reason is needed for any change, including the kill switch.</small>}
      </form>
      {done && <p className="callout callout-good" role="status">{done}</p>}
      {pending && (
        <ConfirmDialog
          open
          title={pending.kill ? 'Pull the kill switch?' : 'Change the rollout?'}
          confirmLabel={pending.kill ? 'Route everything to legacy' : `Set ${pending.mode}${pending.mode === 'legacy' ? '' : ` at ${pending.rolloutPercent} %`}`}
          danger={pending.kill}
          busy={set.isPending}
          onCancel={() => setPending(null)}
          onConfirm={() => set.mutate({ mode: pending.mode, rolloutPercent: pending.mode === 'legacy' ? undefined : pending.rolloutPercent, reason: reason.trim() })}
        >
          <ul className="consequences">
            <li>
              From <strong>{rolloutSummary(flag.mode, flag.rolloutPercent)}</strong> to <strong>{rolloutSummary(pending.mode, pending.rolloutPercent)}</strong>.
            </li>
            <li>{MODES.find((m) => m.mode === pending.mode)?.help}</li>
            <li>Only new orders are affected; existing orders keep the handler they were created under.</li>
            <li>Every instance picks it up within {duration(flag.refreshIntervalMs)}.</li>
          </ul>
          <p>Reason: <q>{reason.trim()}</q></p>
          {set.isError && <ErrorBox error={set.error} title="The change did not go through as asked" />}
        </ConfirmDialog>
      )}
    </section>
  );
}

function Report({ report }: { report: RouterOutputs['admin']['rollout']['report'] }) {
  return (
    <>
      <div className="table-wrap">
        <table className="table">
          <caption className="visually-hidden">Orders per handler</caption>
          <thead>
            <tr>
              <th scope="col">Handler</th>
              <th scope="col" className="num">Orders</th>
              <th scope="col" className="num">Shadowed</th>
              <th scope="col">By status</th>
            </tr>
          </thead>
          <tbody>
            {report.handlers.map((h) => (
              <tr key={h.handler}>
                <th scope="row">{h.handler}</th>
                <td className="num">{count(h.orders)}</td>
                <td className="num">{count(h.shadowed)}</td>
                <td>
                  {Object.entries(h.byStatus).map(([s, n]) => (
                    <span key={s} className="chip">
                      {ORDER_STATUS_META[s as OrderStatus]?.label ?? s} {count(n)}
                    </span>
                  ))}
                  {Object.keys(h.byStatus).length === 0 && <span className="muted">no orders</span>}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <p>
        {plural(report.shadow.orders, 'shadowed order')}, <strong>{plural(report.shadow.disagreements, 'disagreement')}</strong>.
      </p>
      {report.shadow.orders === 0 ? (
        <p className="empty">No order has been shadowed yet, so there is nothing to compare. Set the mode to shadow to start.</p>
      ) : report.shadow.byKind.length === 0 ? (
        <p className="empty">No disagreements: the new handler agrees with legacy on all {plural(report.shadow.orders, 'shadowed order')}.</p>
      ) : (
        report.shadow.byKind.map((k) => (
          <details key={k.kind} className="disagreement" open>
            <summary>
              <Badge tone="warn">{count(k.count)}</Badge> {k.description} <span className="muted">({plural(k.orders, 'order')})</span>
            </summary>
            <ul>
              {k.examples.map((ex) => (
                <li key={`${ex.orderId}-${ex.eventId}`}>
                  <Link to={`/orders/${ex.orderId}`} className="mono">{ex.orderId.slice(0, 8)}…</Link> legacy <code>{ex.legacyStatus}</code> vs new <code>{ex.newStatus}</code> <Time iso={ex.at} />
                </li>
              ))}
            </ul>
          </details>
        ))
      )}
    </>
  );
}

/** A mode and percentage in words; the percentage means nothing in legacy mode, so it is not shown. */
function rolloutSummary(mode: string, percent: number): string {
  if (mode === 'legacy') return 'legacy (every new order)';
  if (mode === 'shadow') return `shadow (${percent} % of new orders also decided by the new handler)`;
  return `new handler for ${percent} % of new orders`;
}
