import { insertShadowDisagreement, updateOrder, type OrderRow, type Trx } from '@settle/db';
import { isOrderStatus, type OrderState, type ShadowDecision } from '@settle/payments-core';

/** The new handler's own copy of a freshly created order, for shadow mode. */
export function initialShadowState(order: OrderState): OrderState {
  return { ...order, handler: 'new' };
}

/**
 * The shadow copy stored on an order created in shadow mode (`orders.shadow_state`), or null.
 * A copy that is not a well-formed order state is a broken invariant, not something to guess at.
 */
export function readShadowState(row: OrderRow): OrderState | null {
  const raw = row.shadow_state;
  if (raw === null || raw === undefined) return null;
  const state = (typeof raw === 'string' ? JSON.parse(raw) : raw) as OrderState;
  if (typeof state !== 'object' || state === null || state.id !== row.id || !isOrderStatus(state.status) || state.handler !== 'new') {
    throw new Error(`order ${row.id} has a malformed shadow state`);
  }
  // Copies stored before refunds were records of their own have none.
  return { ...state, refunds: state.refunds ?? [] };
}

/**
 * Carry out the shadow side of a shadow decision inside the caller's transaction (which holds the
 * order's row lock): store the new handler's next copy and record a disagreement once per
 * (order, event). Returns whether a disagreement was newly recorded. A command without an event
 * (the reconciler's reading of Stripe) moves the copy but records no disagreement: disagreements
 * are counted per Stripe event, which is what the rollout is judged on.
 */
export async function recordShadowDecision(trx: Trx, orderId: string, eventId: string | null, before: OrderState, result: ShadowDecision): Promise<boolean> {
  if (result.shadow.next !== before) await updateOrder(trx, orderId, { shadow_state: JSON.stringify(result.shadow.next) });
  const d = result.disagreement;
  if (!d || eventId === null) return false;
  return insertShadowDisagreement(trx, {
    orderId,
    eventId,
    kind: d.kind,
    legacyStatus: d.legacyStatus,
    newStatus: d.newStatus,
    legacyOutcome: d.legacyOutcome,
    newOutcome: d.newOutcome,
  });
}
