import { useState, type ReactNode } from 'react';
import { fromLocalInput, toLocalInput } from '../lib/format.js';
import { ConfirmDialog } from './ConfirmDialog.js';
import { ErrorBox } from './ui.js';

/**
 * "Replay everything dead since a time": the time, a required reason, a confirmation that says
 * what will happen, then `children` (the progress of the run) below the form.
 */
export function BulkReplayForm({
  id,
  title,
  sinceLabel,
  reasonPlaceholder,
  confirmTitle,
  confirmLabel,
  consequences,
  pending,
  error,
  onReplay,
  children,
}: {
  /** Prefix of the element ids (`<id>-h`, `<id>-since`, `<id>-reason`). */
  id: string;
  title: string;
  sinceLabel: string;
  reasonPlaceholder: string;
  confirmTitle: string;
  confirmLabel: string;
  /** What the confirmation says will happen, for the chosen time. */
  consequences: (since: Date | null) => ReactNode;
  pending: boolean;
  error: unknown;
  /** Run the replay; the confirmation closes when it resolves. */
  onReplay: (sinceIso: string, reason: string) => Promise<unknown>;
  children?: ReactNode;
}) {
  const [since, setSince] = useState(() => toLocalInput(new Date(Date.now() - 24 * 3_600_000)));
  const [reason, setReason] = useState('');
  const [confirming, setConfirming] = useState(false);
  const sinceIso = fromLocalInput(since);
  const valid = sinceIso !== null && reason.trim().length >= 3;
  return (
    <section className="card" aria-labelledby={`${id}-h`}>
      <h2 id={`${id}-h`}>{title}</h2>
      <form
        className="inline-form"
        noValidate
        onSubmit={(e) => {
          e.preventDefault();
          if (valid) setConfirming(true);
        }}
      >
        <div className="field">
          <label htmlFor={`${id}-since`}>{sinceLabel}</label>
          <input id={`${id}-since`} type="datetime-local" value={since} onChange={(e) => setSince(e.target.value)} required />
        </div>
        <div className="field field-grow">
          <label htmlFor={`${id}-reason`}>Reason (required)</label>
          <input id={`${id}-reason`} value={reason} onChange={(e) => setReason(e.target.value)} placeholder={reasonPlaceholder} />
        </div>
        <div className="filters-actions">
          <button type="submit" className="btn btn-primary" disabled={!valid || pending}>
            Replay dead since…
          </button>
        </div>
      </form>
      {children}
      <ConfirmDialog
        open={confirming}
        title={confirmTitle}
        confirmLabel={confirmLabel}
        busy={pending}
        onCancel={() => setConfirming(false)}
        onConfirm={() => {
          if (sinceIso) void onReplay(sinceIso, reason.trim()).then(() => setConfirming(false), () => undefined);
        }}
      >
        {consequences(sinceIso ? new Date(sinceIso) : null)}
        <p>Reason: <q>{reason.trim()}</q></p>
        {error ? <ErrorBox error={error} title="The replay was refused" /> : null}
      </ConfirmDialog>
    </section>
  );
}
