import { checkoutRouter } from './routers/checkout.router.js';
import { entitlementsRouter } from './routers/entitlements.router.js';
import { ordersRouter } from './routers/orders.router.js';
import { productsRouter } from './routers/products.router.js';
import { adminEventsRouter } from './routers/admin-events.router.js';
import { adminOrdersRouter } from './routers/admin-orders.router.js';
import { router } from './trpc.js';

export const appRouter = router({
  products: productsRouter,
  checkout: checkoutRouter,
  orders: ordersRouter,
  entitlements: entitlementsRouter,
  admin: router({
    events: adminEventsRouter,
    orders: adminOrdersRouter,
  }),
});

export type AppRouter = typeof appRouter;
