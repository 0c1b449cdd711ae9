import { subscriptionStatusMeta } from '../lib/status.js';
import { Badge } from './ui.js';

export function SubscriptionStatusBadge({ status }: { status: string }) {
  const meta = subscriptionStatusMeta(status);
  return (
    <Badge tone={meta.tone} title={meta.hint}>
      {meta.label}
    </Badge>
  );
}
