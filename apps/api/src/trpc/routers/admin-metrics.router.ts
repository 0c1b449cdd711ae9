import { countOrdersByStatus, countOrdersMissingInvoice, countStuckOrders, eventSeries, inboxHealth, latencyPercentiles } from '@settle/db';
import { z } from 'zod';
import { adminProcedure, router } from '../trpc.js';

export const adminMetricsRouter = router({
  /** What the console's overview shows: counts now, and event health over time. */
  summary: adminProcedure('viewer')
    .input(
      z
        .object({
          windowHours: z.number().int().min(1).max(24 * 30).default(24),
          bucketMinutes: z.number().int().min(1).max(24 * 60).default(60),
          stuckAfterMinutes: z.number().int().min(1).max(7 * 24 * 60).default(30),
        })
        .default({ windowHours: 24, bucketMinutes: 60, stuckAfterMinutes: 30 }),
    )
    .query(async ({ ctx, input }) => {
      const db = ctx.deps.database.db;
      const [ordersByStatus, stuckOrders, inbox, latency, series, drift, missingInvoices] = await Promise.all([
        countOrdersByStatus(db),
        countStuckOrders(db, input.stuckAfterMinutes),
        inboxHealth(db),
        latencyPercentiles(db, input.windowHours),
        eventSeries(db, { windowHours: input.windowHours, bucketMinutes: input.bucketMinutes }),
        ctx.deps.reconciler.drift(),
        countOrdersMissingInvoice(db, ctx.deps.env.INVOICE_MISSING_AFTER_MIN),
      ]);
      const received = series.reduce((n, b) => n + b.received, 0);
      const failedAttempts = series.reduce((n, b) => n + b.failedAttempts, 0);
      return {
        ordersByStatus,
        stuckOrders,
        /** Paid one-time orders still without their invoice (see INVOICE_MISSING_AFTER_MIN). */
        missingInvoices,
        inbox: { ...inbox.byState, due: inbox.due, oldestDueAgeSeconds: inbox.oldestDueAgeSeconds },
        deadLetters: inbox.byState.dead ?? 0,
        /** Failed processing attempts per event received in the window. */
        errorRate: received === 0 ? 0 : failedAttempts / received,
        latencyMs: latency,
        drift,
        series: series.map((b) => ({ ...b, bucketStart: b.bucketStart.toISOString() })),
      };
    }),
});
