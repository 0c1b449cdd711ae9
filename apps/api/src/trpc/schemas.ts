import { z } from 'zod';

/**
 * Any UUID PostgreSQL stores (zod's `uuid()` accepts RFC 4122 variants only; orders imported or
 * created by other tools may carry other UUIDs).
 */
export const OrderId = z
  .string()
  .regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, 'orderId must be a UUID');
