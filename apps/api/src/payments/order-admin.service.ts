import { lockOrder, recordAdminAction, type OrderRow } from '@settle/db';
import { decideOverride, type OrderStatus } from '@settle/payments-core';
import type { AppDeps } from '../app-deps.js';
import { PermanentError } from '../lib/errors.js';
import { applyDecision } from './apply-decision.js';
import { toOrderState } from './order.mapper.js';

export type OverrideResult =
  | { ok: true; order: OrderRow; from: OrderStatus }
  | { ok: false; code: 'NOT_FOUND' | 'INVALID' | 'CONFLICT'; message: string };

/**
 * An admin moves an order to a chosen status, through the same decide-and-apply path as Stripe
 * events (cause `admin`), with the actor and reason in the order's audit trail and the admin log.
 */
export async function overrideOrder(deps: AppDeps, orderId: string, to: OrderStatus, reason: string, actor: string): Promise<OverrideResult> {
  const result = await deps.database.db.transaction().execute(async (trx): Promise<OverrideResult> => {
    const row = await lockOrder(trx, orderId);
    if (!row) return { ok: false, code: 'NOT_FOUND', message: 'order not found' };
    const product = deps.catalogue.get(row.product_id);
    if (!product) throw new PermanentError(`order ${row.id} has product ${row.product_id}, which is not in the catalogue`);
    const before = toOrderState(row);
    const r = decideOverride(before, to, reason, { at: Math.floor(Date.now() / 1000), grant: deps.catalogue.grantFor(product, row.quantity) });
    if (!r.ok) return { ok: false, code: r.code === 'SAME_STATUS' ? 'CONFLICT' : 'INVALID', message: r.message };
    const { order } = await applyDecision(trx, row, before, r.decision, { cause: 'admin', actor, eventId: null, stripeAt: null, reason });
    await recordAdminAction(trx, { actor, action: 'orders.override', target: `order:${orderId}`, reason, details: { from: before.status, to } });
    return { ok: true, order, from: before.status };
  });
  if (result.ok) deps.metrics.transitions.inc({ from: result.from, to, cause: 'admin' });
  return result;
}
