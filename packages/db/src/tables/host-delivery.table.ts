import type { ColumnType, Generated, Selectable } from 'kysely';

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;

export type HostDeliveryState = 'pending' | 'delivered' | 'dead';
export const HOST_DELIVERY_STATES = ['pending', 'delivered', 'dead'] as const;

/** What Settle tells the host app about (the `type` of a Standard Webhooks message). */
export type HostEventType = 'entitlements.updated' | 'order.updated';

/** The body POSTed to the host: Standard Webhooks' `{type, timestamp, data}`, plus the user's sequence number. */
export type HostEventBody = {
  type: HostEventType;
  /** When the change was committed (ISO-8601). */
  timestamp: string;
  /** Per user, increasing in commit order: a host keeps the highest it applied and drops anything lower. */
  sequence: number;
  data: Record<string, unknown>;
};

/** One message of the transactional outbox to the host app, and its delivery state. */
export interface HostDeliveryTable {
  id: string;
  user_id: string;
  sequence: ColumnType<number, number, number>;
  type: HostEventType;
  payload: ColumnType<HostEventBody, string, string>;
  state: Generated<HostDeliveryState>;
  /** Attempts since the message was written or last replayed. */
  attempts: Generated<number>;
  next_attempt_at: Timestamp;
  locked_until: Date | null;
  locked_by: string | null;
  last_error: string | null;
  created_at: Timestamp;
  delivered_at: Date | null;
  dead_at: Date | null;
  replayed_at: Date | null;
  transaction_id: ColumnType<number, never, never>;
  coalesce_key: string;
}
export type HostDeliveryRow = Selectable<HostDeliveryTable>;

export interface HostDeliveryAttemptTable {
  id: Generated<number>;
  delivery_id: string;
  attempted_at: Date;
  duration_ms: number;
  /** The host's HTTP status; null when no response came (refused, timed out). */
  response_status: number | null;
  /** The start of the host's answer, for the console. */
  response_body: string | null;
  error: string | null;
  worker: string;
}
export type HostDeliveryAttemptRow = Selectable<HostDeliveryAttemptTable>;
