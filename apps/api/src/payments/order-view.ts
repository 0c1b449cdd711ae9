import { findInvoiceForOrder, findSubscriptionForOrder, type Db, type OrderRow, type Trx } from '@settle/db';
import { toOrderDto, type OrderDto } from './order.mapper.js';

/** An order as `orders.get` shows it: with its invoice, and its subscription for a plan order. */
export async function readOrderDto(db: Db | Trx, row: OrderRow): Promise<OrderDto> {
  return toOrderDto(row, await findInvoiceForOrder(db, row.id), row.mode === 'subscription' ? await findSubscriptionForOrder(db, row.id) : undefined);
}
