export type { AppRouter } from './trpc/root.js';
export type { OrderDto } from './payments/order.mapper.js';
