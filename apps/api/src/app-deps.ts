import type { DatabaseHandle } from '@settle/db';
import type { Logger } from 'pino';
import type Stripe from 'stripe';
import type { Env } from './env.js';
import type { HandlerChoice, HandlerFlag } from './flags/handler-flag.js';
import type { Metrics } from './lib/metrics.js';
import type { HostWebhookSender } from './host-webhooks/host-webhook-sender.js';
import type { CreditSpender } from './entitlements/credit-spending.service.js';
import type { OrderChangeBus } from './lib/order-change-bus.js';
import type { Reconciler } from './payments/reconciler.js';
import type { ProductCatalogue } from './payments/product-catalogue.js';
import type { EventRecovery } from './payments/event-recovery.service.js';
import type { InboxProcessor } from './workers/inbox-processor.js';
import type { ProcessingProcesses } from './workers/processing-processes.js';

/** Everything the routes, routers and workers need, built once by the composition root. */
export type AppDeps = {
  env: Env;
  database: DatabaseHandle;
  catalogue: ProductCatalogue;
  /** Null when no Stripe API is configured: checkout is then refused with a clear error. */
  stripe: Stripe | null;
  processor: InboxProcessor;
  logger: Logger;
  metrics: Metrics;
  jwtSecret: Uint8Array | null;
  /** Asks Stripe about stuck orders; also `admin.orders.reconcile`. */
  reconciler: Reconciler;
  /** Order changes across instances, for live status. */
  orderChanges: OrderChangeBus;
  /** Process a stored event now, tracked for graceful shutdown. */
  processNow(eventId: string): void;
  /** `WORKER_PROCESSES`: the processes this API hands its events to (readiness and metrics include theirs); null: it processes them itself. */
  processingProcesses: ProcessingProcesses | null;
  /** Recovers events Settle never received from Stripe's Events API (`admin.events.recover`, on a schedule). */
  recovery: EventRecovery;
  /** The rollout flag: which handler new orders get; read and changed by `admin.flags`. */
  flags: HandlerFlag;
  /** Which handler a new order of this user is created under, and whether the new one shadows it. */
  chooseHandler(userId: string): Promise<HandlerChoice>;
  /** Sends the outbox to the host app; null without `HOST_WEBHOOK_URL` (changes wait in the outbox, up to its retention). */
  hostWebhooks: HostWebhookSender | null;
  /** `entitlements.consume`. */
  credits: CreditSpender;
};
