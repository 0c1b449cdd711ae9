/**
 * Where a stored Stripe event is in its processing. `ignored`: about a Stripe object Settle did
 * not create (settled at once, never retried); `unmatched`: names a Settle order that never appeared.
 */
export type InboxState = 'pending' | 'processed' | 'failed' | 'dead' | 'unmatched' | 'ignored';

export type ReplayPlan =
  /** Put it back in the queue with a fresh retry schedule (its error history is kept). */
  | 'requeue'
  /** Already waiting to be processed; nothing to do. */
  | 'already_queued';

/**
 * Replay is always allowed and always safe: processing is idempotent (a processed event decides
 * `noop`, grants rest on a unique constraint), so replaying a processed event changes nothing.
 */
export function planReplay(state: InboxState): ReplayPlan {
  return state === 'pending' ? 'already_queued' : 'requeue';
}
