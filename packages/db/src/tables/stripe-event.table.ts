import type { InboxState } from '@settle/payments-core';
import type { ColumnType, Generated, Insertable, Selectable } from 'kysely';

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;

export type AttemptError = { at: string; attempt: number; error: string; transient: boolean };

export interface StripeEventTable {
  id: string;
  type: string;
  object_id: string | null;
  order_id: string | null;
  stripe_created: Date;
  api_version: string | null;
  livemode: Generated<boolean>;
  payload: ColumnType<unknown, string, string>;
  received_at: Timestamp;
  state: Generated<InboxState>;
  outcome: string | null;
  attempts: Generated<number>;
  next_attempt_at: Timestamp;
  locked_until: Date | null;
  locked_by: string | null;
  last_error: string | null;
  errors: ColumnType<AttemptError[], string | undefined, string>;
  /** When an admin last put the event back in the queue (replay). */
  replayed_at: Date | null;
  processed_at: Date | null;
}
export type StripeEventRow = Selectable<StripeEventTable>;
export type NewStripeEvent = Insertable<StripeEventTable>;
