import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { trpc } from '../trpc.js';
import { ConfirmDialog } from './ConfirmDialog.js';
import { ErrorBox } from './ui.js';

export type ReplayTarget = { eventId: string; type: string; state: string };

/** What a replay did, in words that match the event's state before it. */
function replayOutcome(state: string, alreadyQueued: boolean): string {
  if (alreadyQueued) return 'It was already waiting in the queue; nothing changed. A worker processes it shortly.';
  if (state === 'processed') return 'It had been processed already. It is processed again, which changes nothing that was applied: processing is idempotent.';
  return 'It is back in the queue with a fresh retry budget and is being processed. Its state on the order and in Events updates within seconds; if the cause is not fixed it ends dead again.';
}

/** Replay one inbox event with a reason (audited); used from the Events list and from an order's timeline. */
export function ReplayDialog({ event, onClose }: { event: ReplayTarget; onClose: () => void }) {
  const queryClient = useQueryClient();
  const [reason, setReason] = useState('');
  const refresh = () => {
    void queryClient.invalidateQueries({ queryKey: trpc.admin.events.pathKey() });
    void queryClient.invalidateQueries({ queryKey: trpc.admin.orders.pathKey() });
    void queryClient.invalidateQueries({ queryKey: trpc.admin.audit.list.pathKey() });
  };
  const replay = useMutation(
    trpc.admin.events.replay.mutationOptions({
      onSuccess: () => {
        refresh();
        setTimeout(refresh, 1500);
      },
    }),
  );
  const done = replay.isSuccess;
  return (
    <ConfirmDialog
      open
      title={done ? 'Replay queued' : `Replay ${event.type}?`}
      confirmLabel={done ? 'Close' : 'Replay event'}
      busy={replay.isPending}
      confirmDisabled={!done && reason.trim().length < 3}
      onCancel={onClose}
      onConfirm={() => (done ? onClose() : replay.mutate({ eventId: event.eventId, reason: reason.trim() }))}
    >
      {done ? (
        <p role="status">
          Event <code className="wrap">{event.eventId}</code>: {replayOutcome(event.state, replay.data.alreadyQueued > 0)}
        </p>
      ) : (
        <>
          <p>
            Event <code className="wrap">{event.eventId}</code> ({event.state}){' '}
            {event.state === 'processed'
              ? 'was processed already; replaying it processes it again and changes nothing that was applied.'
              : 'goes back in the queue with a fresh retry budget and is processed at once. Fix the cause first, or it will end dead again.'}
          </p>
          <div className="field">
            <label htmlFor="replay-reason">Reason (required)</label>
            <input id="replay-reason" value={reason} maxLength={500} onChange={(e) => setReason(e.target.value)} placeholder="e.g. handler fixed in 1.4.2" />
          </div>
          {replay.isError && <ErrorBox error={replay.error} title="The replay was refused" />}
        </>
      )}
    </ConfirmDialog>
  );
}
