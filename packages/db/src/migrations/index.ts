import type { Migration } from 'kysely/migration';
import * as initial from './20261126230000_initial.js';
import * as admin from './20261126233000_admin.js';
import * as orderConsoleIndexes from './20261126234000_order_console_indexes.js';
import * as flags from './20261127000000_flags.js';
import * as reconciliation from './20261127010000_reconciliation.js';
import * as subscriptions from './20261127020000_subscriptions.js';
import * as orderEmailAndInvoiceWatch from './20261127030000_order_email_and_invoice_watch.js';
import * as dropUnusedEventIndex from './20261127040000_drop_unused_event_index.js';
import * as rateLimits from './20261201064000_rate_limits.js';
import * as adminTokenOwnerAndRefundRequests from './20261201064500_admin_token_owner_and_refund_requests.js';
import * as subscriptionPayments from './20261201074300_subscription_payments.js';
import * as incidentsAndSearch from './20261201075000_incidents_and_search.js';
import * as hostConnections from './20261201075600_host_connections.js';
import * as refundsDuplicatesIgnored from './20261201080800_refunds_duplicates_ignored.js';
import * as searchPerField from './20261202030000_search_per_field.js';
import * as subscriptionPaymentRefunds from './20261202080000_subscription_payment_refunds.js';
import * as incidentOrderOfPlanEvents from './20261203100000_incident_order_of_plan_events.js';
import * as invoiceNumberSearch from './20261203140000_invoice_number_search.js';
import * as checkoutIdempotency from './20261203150000_checkout_idempotency.js';
import * as subscriptionStatusInferred from './20261203160000_subscription_status_inferred.js';
import * as thinSnapshotIndex from './20261203170000_thin_snapshot_index.js';
import * as subscriptionCancelAt from './20261203180000_subscription_cancel_at.js';
import * as hostDeliveryTransactionStart from './20261203190000_host_delivery_transaction_start.js';
import * as disputePrevented from './20261203210000_dispute_prevented.js';
import * as missingInvoicePaidStatuses from './20261203220000_missing_invoice_paid_statuses.js';
import * as orderGrantSpec from './20261203230000_order_grant_spec.js';

/** Every migration, by its frozen, timestamped name. Add new files here; never edit old ones. */
export const migrations: Record<string, Migration> = {
  '20261126230000_initial': initial,
  '20261126233000_admin': admin,
  '20261126234000_order_console_indexes': orderConsoleIndexes,
  '20261127000000_flags': flags,
  '20261127010000_reconciliation': reconciliation,
  '20261127020000_subscriptions': subscriptions,
  '20261127030000_order_email_and_invoice_watch': orderEmailAndInvoiceWatch,
  '20261127040000_drop_unused_event_index': dropUnusedEventIndex,
  '20261201064000_rate_limits': rateLimits,
  '20261201064500_admin_token_owner_and_refund_requests': adminTokenOwnerAndRefundRequests,
  '20261201074300_subscription_payments': subscriptionPayments,
  '20261201075000_incidents_and_search': incidentsAndSearch,
  '20261201075600_host_connections': hostConnections,
  '20261201080800_refunds_duplicates_ignored': refundsDuplicatesIgnored,
  '20261202030000_search_per_field': searchPerField,
  '20261202080000_subscription_payment_refunds': subscriptionPaymentRefunds,
  '20261203100000_incident_order_of_plan_events': incidentOrderOfPlanEvents,
  '20261203140000_invoice_number_search': invoiceNumberSearch,
  '20261203150000_checkout_idempotency': checkoutIdempotency,
  '20261203160000_subscription_status_inferred': subscriptionStatusInferred,
  '20261203170000_thin_snapshot_index': thinSnapshotIndex,
  '20261203180000_subscription_cancel_at': subscriptionCancelAt,
  '20261203190000_host_delivery_transaction_start': hostDeliveryTransactionStart,
  '20261203210000_dispute_prevented': disputePrevented,
  '20261203220000_missing_invoice_paid_statuses': missingInvoicePaidStatuses,
  '20261203230000_order_grant_spec': orderGrantSpec,
};
