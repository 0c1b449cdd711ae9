import { findInvoiceForOrder, findInvoicesForOrders, findSubscriptionForOrder, findSubscriptionsForOrders, type Db, type OrderRow, type Trx } from '@settle/db';
import { toOrderDto, type OrderDto } from './order.mapper.js';

/** An order as `orders.get` shows it: with its invoice, and its subscription for a plan order. */
export async function readOrderDto(db: Db | Trx, row: OrderRow): Promise<OrderDto> {
  return toOrderDto(row, await findInvoiceForOrder(db, row.id), row.mode === 'subscription' ? await findSubscriptionForOrder(db, row.id) : undefined);
}

/** `readOrderDto` for a page of orders: two statements for the page, whatever its length. */
export async function readOrderDtos<R extends OrderRow>(db: Db | Trx, rows: R[]): Promise<{ row: R; dto: OrderDto }[]> {
  const [invoices, subscriptions] = await Promise.all([
    findInvoicesForOrders(db, rows.map((r) => r.id)),
    findSubscriptionsForOrders(db, rows.filter((r) => r.mode === 'subscription').map((r) => r.id)),
  ]);
  return rows.map((row) => ({ row, dto: toOrderDto(row, invoices.get(row.id), subscriptions.get(row.id)) }));
}
