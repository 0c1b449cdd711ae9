import { recordAdminAction, type Db, type OrderRow } from '@settle/db';
import type { OrderStatus } from '@settle/payments-core';
import type { Logger } from 'pino';
import type { Metrics } from '../lib/metrics.js';
import { applyOrderCommand, reportOrderChange } from './order-command.js';
import type { ProductCatalogue } from './product-catalogue.js';

export type OrderAdminDeps = { db: Db; catalogue: ProductCatalogue; metrics: Metrics; logger: Logger };

export type OverrideResult =
  | { ok: true; order: OrderRow; from: OrderStatus }
  | { ok: false; code: 'NOT_FOUND' | 'INVALID' | 'CONFLICT'; message: string };

/**
 * An admin moves an order to a chosen status, through the same order use case as Stripe events
 * (cause `admin`), with the actor and reason in the order's audit trail and the admin log.
 */
export async function overrideOrder(deps: OrderAdminDeps, orderId: string, to: OrderStatus, reason: string, actor: string): Promise<OverrideResult> {
  const source = { cause: 'admin', actor, eventId: null, stripeAt: null, reason } as const;
  const change = await deps.db.transaction().execute(async (trx) => {
    const r = await applyOrderCommand(
      trx,
      { orderId },
      { kind: 'override', to, reason },
      { at: Math.floor(Date.now() / 1000), catalogue: deps.catalogue, logger: deps.logger },
      source,
    );
    if (r.status === 'decided') {
      await recordAdminAction(trx, { actor, action: 'orders.override', target: `order:${orderId}`, reason, details: { from: r.from, to } });
    }
    return r;
  });
  if (change.status === 'no_order') return { ok: false, code: 'NOT_FOUND', message: 'order not found' };
  if (change.status === 'refused') return { ok: false, code: change.code === 'SAME_STATUS' ? 'CONFLICT' : 'INVALID', message: change.message };
  reportOrderChange(deps.metrics, deps.logger, change, source);
  return { ok: true, order: change.order, from: change.from };
}
