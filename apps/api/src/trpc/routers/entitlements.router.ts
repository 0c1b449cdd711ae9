import { entitlementsView, getEntitlement, listCreditLedger, type CreditLedgerRow } from '@settle/db';
import { z } from 'zod';
import { decodeCursor, encodeCursor } from '../cursor.js';
import { domainError, router, userProcedure } from '../trpc.js';

const ConsumeInput = z.object({
  credits: z.number().int('credits must be a whole number').positive('credits must be at least 1').max(1_000_000_000),
  /**
   * The host's key for this spend: a retry with the same key spends nothing more. Taken exactly as
   * sent: a key with spaces around it is refused, not trimmed (" job " would repeat "job").
   */
  idempotencyKey: z
    .string()
    .min(1, 'idempotencyKey is required')
    .max(255)
    .refine((k) => k.trim() === k, 'idempotencyKey must not start or end with whitespace'),
  reason: z.string().trim().min(1).max(500).optional(),
});

const LedgerPageInput = z
  .object({ cursor: z.string().max(300).nullish(), limit: z.number().int().min(1).max(200).default(50) })
  .default({ limit: 50 });

/** One page of a user's credit ledger, newest first; shared by the user's and the console's view. */
export async function ledgerPage(db: Parameters<typeof listCreditLedger>[0], userId: string, page: { cursor?: string | null | undefined; limit: number }) {
  let beforeId: number | undefined;
  if (page.cursor) {
    const c = decodeCursor(page.cursor);
    if (!/^\d{1,18}$/.test(c.id)) throw domainError('INVALID', 'cursor is not valid');
    beforeId = Number(c.id);
  }
  const rows = await listCreditLedger(db, { userId, beforeId, limit: page.limit + 1 });
  const items = rows.slice(0, page.limit);
  const last = items.at(-1);
  return {
    items: items.map(ledgerEntry),
    nextCursor: rows.length > page.limit && last ? encodeCursor({ createdAt: new Date(last.created_at).toISOString(), id: String(last.id) }) : null,
  };
}

function ledgerEntry(e: CreditLedgerRow) {
  return {
    id: Number(e.id),
    /** Credits added (positive) or taken (negative). */
    delta: e.delta,
    /** `grant`, `consume`, or what revoked credits (refund, dispute…). */
    reason: e.reason,
    /** The host's reason, on a spend. */
    note: e.note,
    idempotencyKey: e.idempotency_key,
    orderId: e.order_id,
    balanceAfter: Number(e.balance_after),
    debtAfter: Number(e.debt_after),
    createdAt: new Date(e.created_at).toISOString(),
  };
}

export const entitlementsRouter = router({
  get: userProcedure.query(async ({ ctx }) => entitlementsView(await getEntitlement(ctx.deps.database.db, ctx.user.id))),

  /** Spend credits once per idempotency key; PRECONDITION_FAILED (nothing spent) when the balance is short. */
  consume: userProcedure.input(ConsumeInput).mutation(async ({ ctx, input }) => {
    const result = await ctx.deps.credits.spend({ userId: ctx.user.id, credits: input.credits, idempotencyKey: input.idempotencyKey, note: input.reason ?? null });
    if (!result.ok) {
      if (result.code === 'INSUFFICIENT_CREDITS') {
        throw domainError('PRECONDITION', `not enough credits: ${input.credits} asked, ${result.credits} available; nothing was spent`);
      }
      throw domainError('CONFLICT', `idempotencyKey was already used to spend ${result.consumed} credits, not ${input.credits}`);
    }
    return { credits: result.credits, consumed: result.consumed };
  }),

  /** The caller's credit ledger, newest first. */
  ledger: userProcedure.input(LedgerPageInput).query(async ({ ctx, input }) => ledgerPage(ctx.deps.database.db, ctx.user.id, input)),
});
