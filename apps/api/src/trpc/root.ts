import { checkoutRouter } from './routers/checkout.router.js';
import { entitlementsRouter } from './routers/entitlements.router.js';
import { ordersRouter } from './routers/orders.router.js';
import { productsRouter } from './routers/products.router.js';
import { adminEventsRouter } from './routers/admin-events.router.js';
import { adminOrdersRouter } from './routers/admin-orders.router.js';
import { adminMetricsRouter } from './routers/admin-metrics.router.js';
import { adminAuditRouter } from './routers/admin-audit.router.js';
import { adminUsersRouter } from './routers/admin-users.router.js';
import { adminTokensRouter } from './routers/admin-tokens.router.js';
import { authRouter } from './routers/auth.router.js';
import { adminFlagsRouter } from './routers/admin-flags.router.js';
import { adminRolloutRouter } from './routers/admin-rollout.router.js';
import { adminSubscriptionsRouter } from './routers/admin-subscriptions.router.js';
import { billingRouter } from './routers/billing.router.js';
import { adminDeliveriesRouter } from './routers/admin-deliveries.router.js';
import { adminCustomersRouter } from './routers/admin-customers.router.js';
import { router } from './trpc.js';

export const appRouter = router({
  products: productsRouter,
  checkout: checkoutRouter,
  orders: ordersRouter,
  entitlements: entitlementsRouter,
  billing: billingRouter,
  auth: authRouter,
  admin: router({
    users: adminUsersRouter,
    tokens: adminTokensRouter,
    audit: adminAuditRouter,
    events: adminEventsRouter,
    orders: adminOrdersRouter,
    metrics: adminMetricsRouter,
    flags: adminFlagsRouter,
    rollout: adminRolloutRouter,
    subscriptions: adminSubscriptionsRouter,
    deliveries: adminDeliveriesRouter,
    customers: adminCustomersRouter,
  }),
});

export type AppRouter = typeof appRouter;
