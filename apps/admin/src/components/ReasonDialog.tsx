import { useState, type ReactNode } from 'react';
import { ConfirmDialog } from './ConfirmDialog.js';
import { ErrorBox } from './ui.js';

/** A dangerous action's confirmation that needs a reason (3 characters at least) before it can go. */
export function ReasonDialog({
  title,
  confirmLabel,
  children,
  busy,
  error,
  errorTitle,
  onConfirm,
  onCancel,
}: {
  title: string;
  confirmLabel: string;
  children: ReactNode;
  busy: boolean;
  error: unknown;
  errorTitle: string;
  onConfirm: (reason: string) => void;
  onCancel: () => void;
}) {
  const [reason, setReason] = useState('');
  return (
    <ConfirmDialog open title={title} confirmLabel={confirmLabel} danger busy={busy} confirmDisabled={reason.trim().length < 3} onCancel={onCancel} onConfirm={() => onConfirm(reason.trim())}>
      {children}
      <div className="field">
        <label htmlFor="dialog-reason">Reason (required)</label>
        <input id="dialog-reason" value={reason} onChange={(e) => setReason(e.target.value)} />
      </div>
      {Boolean(error) && <ErrorBox error={error} title={errorTitle} />}
    </ConfirmDialog>
  );
}
