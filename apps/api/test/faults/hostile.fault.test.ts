import { TEST_BACKENDS } from '@settle/db/testing';
import { journeyEvents, seededRandom, signPayload, type StripeEvent } from '@settle/stripe-simulator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seedOrder, snapshot, startApi, waitForInbox, WEBHOOK_SECRET, type TestApi } from '../harness.js';

type Attack = { kind: string; body: string; signature: string | null };

describe.each(TEST_BACKENDS)('hostile input on %s', (kind) => {
  let api: TestApi;
  beforeAll(async () => {
    api = await startApi(kind, { UNMATCHED_MAX_ATTEMPTS: '1' });
  });
  afterAll(async () => {
    await api?.close();
  });

  it('a few thousand hostile requests: no 5xx, no state change but the expected reviews, still serving', async () => {
    const random = seededRandom(99);
    const now = Math.floor(Date.now() / 1000);
    const victims = await Promise.all(Array.from({ length: 20 }, () => seedOrder(api.db)));
    const wrongAmount = await Promise.all(Array.from({ length: 10 }, () => seedOrder(api.db)));
    const sample = (orderId: string, sessionId: string, chargedAmount?: number): StripeEvent =>
      journeyEvents('card_success', { orderId, checkoutSessionId: sessionId, amount: 995, currency: 'usd', startAt: now, ...(chargedAmount ? { chargedAmount } : {}) })
        .find((e) => e.type === 'payment_intent.succeeded')!;
    const pick = <T,>(xs: T[]) => xs[Math.floor(random() * xs.length)]!;
    const before = await snapshot(api.db);

    const attacks: Attack[] = [];
    for (let i = 0; i < 2_400; i++) {
      const v = pick(victims);
      const ev = sample(v.id, v.checkout_session_id!);
      const body = JSON.stringify(ev);
      switch (i % 8) {
        case 0: attacks.push({ kind: 'bad signature', body, signature: signPayload(body, 'whsec_attacker') }); break;
        case 1: attacks.push({ kind: 'stale timestamp', body, signature: signPayload(body, WEBHOOK_SECRET, now - 3_600) }); break;
        case 2: attacks.push({ kind: 'tampered body', body: body.replace('"amount":995', '"amount":1'), signature: signPayload(body, WEBHOOK_SECRET) }); break;
        case 3: {
          const truncated = body.slice(0, Math.floor(body.length * random()));
          attacks.push({ kind: 'truncated JSON', body: truncated, signature: signPayload(truncated, WEBHOOK_SECRET) });
          break;
        }
        case 4: {
          if (i % 48 !== 4) {
            attacks.push({ kind: 'no signature', body, signature: null });
            break;
          }
          const huge = JSON.stringify({ ...ev, padding: 'A'.repeat(1_100_000) });
          attacks.push({ kind: 'huge body', body: huge, signature: signPayload(huge, WEBHOOK_SECRET) });
          break;
        }
        case 5: {
          const unknown = JSON.stringify({ ...ev, id: `evt_hostile_unknown_${i}`, type: 'issuing_card.created', data: { object: { id: `ic_${i}` } } });
          attacks.push({ kind: 'unknown type', body: unknown, signature: signPayload(unknown, WEBHOOK_SECRET) });
          break;
        }
        case 6: {
          const notEvent = JSON.stringify({ id: `evt_${i}`, object: 'event', type: 42, data: 'x' });
          attacks.push({ kind: 'not an event', body: notEvent, signature: signPayload(notEvent, WEBHOOK_SECRET) });
          break;
        }
        default: {
          const w = wrongAmount[(i >> 3) % wrongAmount.length]!;
          const wrong = JSON.stringify(sample(w.id, w.checkout_session_id!, 1));
          attacks.push({ kind: 'wrong amount', body: wrong, signature: signPayload(wrong, WEBHOOK_SECRET) });
        }
      }
    }

    const byKind: Record<string, Record<number, number>> = {};
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        for (let i = next++; i < attacks.length; i = next++) {
          const a = attacks[i]!;
          const res = await fetch(`${api.url}/webhooks/stripe`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', ...(a.signature ? { 'stripe-signature': a.signature } : {}) },
            body: a.body,
          });
          await res.arrayBuffer();
          (byKind[a.kind] ??= {})[res.status] = ((byKind[a.kind] ??= {})[res.status] ?? 0) + 1;
        }
      }),
    );
    await waitForInbox(api.db);
    console.log(`hostile (${kind}): ${attacks.length} requests ${JSON.stringify(byKind)}`);

    const statuses = Object.values(byKind).flatMap((m) => Object.keys(m).map(Number));
    expect(statuses.filter((s) => s >= 500)).toEqual([]);
    for (const k of ['bad signature', 'stale timestamp', 'tampered body', 'truncated JSON', 'no signature', 'not an event']) {
      expect(Object.keys(byKind[k] ?? {})).toEqual(['400']);
    }
    expect(Object.keys(byKind['huge body'] ?? {})).toEqual(['413']);

    const after = await snapshot(api.db);
    // Victims of refused requests are untouched; only the wrong-amount orders moved, to review.
    expect(after.grants).toEqual(before.grants);
    // The wrong-amount orders' `order.updated` messages to the host advance their users' outbox
    // sequence (kept on the entitlements row); what a user is entitled to must not change.
    expect(entitledTo(after.entitlements)).toEqual(entitledTo(before.entitlements));
    const wrongIds = new Set(wrongAmount.map((o) => o.id));
    const changed = (after.orders as { id: string; status: string; updated_at: Date }[]).filter((o) => {
      const old = (before.orders as { id: string; updated_at: Date }[]).find((b) => b.id === o.id);
      return !old || old.updated_at.getTime() !== o.updated_at.getTime();
    });
    expect(changed.every((o) => wrongIds.has(o.id) && o.status === 'needs_review')).toBe(true);
    expect(changed).toHaveLength(wrongAmount.length);
    // Stored: one row per unknown-type event and per distinct wrong-amount event, nothing else.
    const stored = (after.stripe_events as { type: string; state: string; outcome: string }[]).slice(before.stripe_events!.length);
    expect(new Set(stored.map((e) => e.type))).toEqual(new Set(['issuing_card.created', 'payment_intent.succeeded']));
    expect(stored.every((e) => e.state === 'processed')).toBe(true);

    const alive = await fetch(`${api.url}/readyz`);
    expect(alive.status).toBe(200);
  }, 120_000);
});

type EntitlementRow = { user_id: string; credits: number; credit_debt: number; plan: string | null; subscription_status: string | null; plan_period_end: unknown };

/** What each user is entitled to, without bookkeeping columns; a row that grants nothing is no entitlement. */
function entitledTo(rows: unknown[] | undefined) {
  return ((rows ?? []) as EntitlementRow[])
    .map(({ user_id, credits, credit_debt, plan, subscription_status, plan_period_end }) => ({ user_id, credits, credit_debt, plan, subscription_status, plan_period_end }))
    .filter((r) => r.credits !== 0 || r.credit_debt !== 0 || r.plan !== null || r.subscription_status !== null)
    .sort((a, b) => a.user_id.localeCompare(b.user_id));
}
