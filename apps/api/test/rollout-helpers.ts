import { journeyEvents, type PaymentJourney } from '@settle/stripe-simulator';
import { normalizedStrategyValue } from 'unleash-client/lib/strategy/util.js';
import { NEW_HANDLER_FLAG } from '../src/flags/handler-flag.js';
import { openOrder } from '../src/payments/checkout.service.js';
import { send, trpcClient, waitForInbox, type TestApi } from './harness.js';

type Admin = ReturnType<typeof trpcClient>;
type FlagView = Awaited<ReturnType<Admin['admin']['flags']['get']['query']>>;

/** Wait until this API's SDK evaluates the flag as `expected` (the change reached it with a poll). */
export async function waitForFlag(admin: Admin, expected: { mode: string; rolloutPercent?: number }, timeoutMs = 15_000): Promise<FlagView> {
  const deadline = Date.now() + timeoutMs;
  let last: FlagView | null = null;
  for (;;) {
    last = await admin.admin.flags.get.query();
    if (last.defined && last.mode === expected.mode && (expected.rolloutPercent === undefined || last.rolloutPercent === expected.rolloutPercent)) return last;
    if (Date.now() > deadline) throw new Error(`flag never became ${JSON.stringify(expected)}; last seen ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Create a new order for a user the way `checkout.create` does (the flag chooses the handler). */
export async function newOrder(api: TestApi, userId: string) {
  const product = api.settle.deps.catalogue.get('credits10')!;
  return openOrder(api.settle.deps, { userId, product, quantity: 1, stripeCustomerId: null });
}

/** Whether the SDK's flexibleRollout puts this user inside `percent` (its own stickiness hash). */
export function inRollout(userId: string, percent: number): boolean {
  return percent > 0 && normalizedStrategyValue(userId, NEW_HANDLER_FLAG) <= percent;
}

/** Deliver a journey's events one by one, each processed before the next (a deterministic order). */
export async function runJourney(api: TestApi, journey: PaymentJourney, orderId: string) {
  const events = journeyEvents(journey, {
    orderId,
    checkoutSessionId: `cs_test_${orderId.replaceAll('-', '')}`,
    amount: 995,
    currency: 'usd',
    startAt: Math.floor(Date.now() / 1000),
  });
  for (const ev of events) {
    const res = await send(api, ev);
    if (res.status !== 200) throw new Error(`webhook answered ${res.status} for ${ev.type}`);
    await waitForInbox(api.db);
  }
  return events;
}
