import type { Kysely, Transaction } from 'kysely';
import type { OrderTable, OrderTransitionTable, ReconciliationRunTable } from './tables/order.table.js';
import type { StripeEventTable } from './tables/stripe-event.table.js';
import type { CreditLedgerTable, EntitlementTable, GrantTable } from './tables/grant.table.js';
import type { InvoiceTable, StripeCustomerTable } from './tables/invoice.table.js';
import type { AdminAuditTable, AdminRefundRequestTable, AdminSessionTable, AdminTokenTable, AdminUserTable } from './tables/admin.table.js';
import type { FeatureFlagTable, ShadowDisagreementTable } from './tables/flag.table.js';
import type { SubscriptionHistoryTable, SubscriptionPaymentTable, SubscriptionTable } from './tables/subscription.table.js';
import type { DuplicatePaymentTable, RefundTable } from './tables/refund.table.js';
import type { HostDeliveryAttemptTable, HostDeliveryTable } from './tables/host-delivery.table.js';

export interface Database {
  orders: OrderTable;
  order_transitions: OrderTransitionTable;
  reconciliation_runs: ReconciliationRunTable;
  stripe_events: StripeEventTable;
  grants: GrantTable;
  credit_ledger: CreditLedgerTable;
  entitlements: EntitlementTable;
  invoices: InvoiceTable;
  stripe_customers: StripeCustomerTable;
  admin_users: AdminUserTable;
  admin_sessions: AdminSessionTable;
  admin_tokens: AdminTokenTable;
  admin_audit: AdminAuditTable;
  admin_refund_requests: AdminRefundRequestTable;
  feature_flags: FeatureFlagTable;
  shadow_disagreements: ShadowDisagreementTable;
  subscriptions: SubscriptionTable;
  refunds: RefundTable;
  duplicate_payments: DuplicatePaymentTable;
  subscription_payments: SubscriptionPaymentTable;
  subscription_history: SubscriptionHistoryTable;
  host_deliveries: HostDeliveryTable;
  host_delivery_attempts: HostDeliveryAttemptTable;
}

export type Db = Kysely<Database>;
export type Trx = Transaction<Database>;
/** Either a database handle or a transaction: what read-only repositories take. */
export type Executor = Kysely<Database>;
