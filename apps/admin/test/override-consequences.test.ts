/**
 * The override dialog's words against the server's rule: for every (from, to) pair and every state
 * of the order's credit grant, payments-core's decideOverride is carried out on that grant as the
 * API does (a grant is given once; a restore or a revocation brings the revoked part to a total),
 * and the console must say what that does: give, give back, take back, or leave alone.
 */
import { describe, expect, it } from 'vitest';
import type { GrantSpec } from '../../../packages/payments-core/src/decision.js';
import { ORDER_STATUSES, type OrderState } from '../../../packages/payments-core/src/order-state.js';
import { decideOverride } from '../../../packages/payments-core/src/override.js';
import { overrideConsequences, type GrantHolding } from '../src/lib/status.js';

const spec = { kind: 'credits', credits: 10, partialRefund: 'proportional' } satisfies GrantSpec;
const order = (status: OrderState['status']): OrderState => ({
  id: 'o1', userId: 'u1', status, handler: 'new', amount: 995, currency: 'usd', checkoutSessionId: 'cs_1',
  paymentIntentId: 'pi_1', statusAt: 100, paidAt: null, amountRefunded: 0, disputeId: null, disputeStatus: null,
  statusBeforeDispute: null, reviewReason: null, failureReason: null, refunds: [],
});

type Grant = { credits: number; revoked: number } | null;
/** What the API's effects do to the order's credit grant (apply-decision.ts, refund-effects.ts). */
function carryOut(grant: Grant, effects: { type: string; creditsRevoked?: number }[]): Grant {
  let g = grant;
  for (const e of effects) {
    if (e.type === 'grant' && g === null) g = { credits: spec.credits, revoked: 0 };
    if (e.type === 'restore' && g) g = { ...g, revoked: Math.min(g.revoked, Math.max(0, e.creditsRevoked!)) };
    if (e.type === 'revoke' && g) g = { ...g, revoked: Math.max(g.revoked, Math.min(g.credits, e.creditsRevoked!)) };
  }
  return g;
}
const held = (g: Grant) => (g ? g.credits - g.revoked : 0);

function said(line: string): 'give' | 'give back' | 'take back' | 'none' {
  if (line.startsWith('The customer is granted ')) return 'give';
  if (/ are given back| is given back/.test(line)) return 'give back';
  if (/still held from this order are taken back|plan is taken back \(it ends now\)/.test(line)) return 'take back';
  return 'none';
}

const GRANTS: Grant[] = [null, { credits: 10, revoked: 0 }, { credits: 10, revoked: 4 }, { credits: 10, revoked: 10 }];

describe('overrideConsequences says what decideOverride does to the grant', () => {
  for (const from of ORDER_STATUSES) {
    for (const to of ORDER_STATUSES.filter((s) => s !== from)) {
      it(`${from} → ${to}`, () => {
        const r = decideOverride(order(from), to, 'a reason', { at: 500, grant: spec });
        if (!r.ok) throw new Error(r.message);
        for (const before of GRANTS) {
          const after = carryOut(before, r.decision.effects as { type: string; creditsRevoked?: number }[]);
          const expected = before === null && after !== null ? 'give' : held(after) > held(before) ? 'give back' : held(after) < held(before) ? 'take back' : 'none';
          const holding: GrantHolding = {
            spec: { kind: 'credits', credits: 10 },
            granted: before && { kind: 'credits', credits: before.credits, creditsRevoked: before.revoked },
            takenBy: before && before.revoked > 0 ? 'the chargeback' : null,
          };
          const lines = overrideConsequences(from, to, holding);
          expect({ before, line: said(lines[1]!) }).toEqual({ before, line: expected });
        }
      });
    }
  }

  it('says so when Stripe reported a refund on an order an override is about to grant in full', () => {
    const holding: GrantHolding = { spec: { kind: 'credits', credits: 10 }, granted: null, takenBy: null };
    const parked = overrideConsequences('needs_review', 'succeeded', holding, { amount: 500, currency: 'usd' });
    expect(parked).toContainEqual(expect.stringMatching(/^Stripe has reported \$5\.00 refunded on this order/));
    // Nothing refunded, or an override that grants nothing: no such line.
    expect(overrideConsequences('needs_review', 'succeeded', holding, { amount: 0, currency: 'usd' })).toHaveLength(4);
    expect(overrideConsequences('needs_review', 'canceled', holding, { amount: 500, currency: 'usd' })).toHaveLength(4);
    // Partially refunded takes the refunded share back, and says so.
    expect(overrideConsequences('needs_review', 'partially_refunded', holding, { amount: 500, currency: 'usd' })).toContainEqual(expect.stringMatching(/refunded share of the grant is taken back/));
    expect(parked).toContainEqual(expect.stringMatching(/choose “Partially refunded” to take the refunded share back/));
  });

  it('names the credits a chargeback took when Succeeded gives them back', () => {
    const lines = overrideConsequences('charged_back', 'succeeded', { spec: { kind: 'credits', credits: 10 }, granted: { kind: 'credits', credits: 10, creditsRevoked: 10 }, takenBy: 'the chargeback' });
    expect(lines[1]).toMatch(/^The 10 credits taken by the chargeback are given back/);
  });
});
