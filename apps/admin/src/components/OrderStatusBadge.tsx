import { ORDER_STATUS_META, type OrderStatus } from '../lib/status.js';
import { Badge } from './ui.js';

export function OrderStatusBadge({ status }: { status: OrderStatus }) {
  const meta = ORDER_STATUS_META[status];
  return (
    <Badge tone={meta.tone} title={meta.hint}>
      {meta.label}
    </Badge>
  );
}
