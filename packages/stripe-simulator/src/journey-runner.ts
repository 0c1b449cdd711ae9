/**
 * Running a scripted journey on a Checkout Session: the simulator's objects move as the journey's
 * events say (so the API answers what the webhooks told), then the events are delivered.
 */
import { SimulatorError, type JourneyRun, type JourneyRunOptions, type SimulatorCore } from './core.js';
import {
  ALL_JOURNEYS, foreignJourneyEvents, incidentJourneyEvents, isJourney, isSubscriptionJourney, journeyEvents, journeyMode,
  subscriptionJourneyEvents, INCIDENT_JOURNEYS, type ForeignJourney, type IncidentJourney, type Journey, type PaymentJourney, type PlanPrice,
} from './journeys.js';
import { isRecord } from './stripe-api.js';
import type { StripeEvent } from './stripe-events.js';
import { clone, invoiceNumber, noteEvents, nowSeconds, type SimulatorState, type StripeObject } from './state.js';

type ApplyOptions = Pick<JourneyRunOptions, 'startAt' | 'drop' | 'fail' | 'targetPriceId' | 'addOnPriceId'>;

export async function runJourney(sim: SimulatorCore, journey: Journey, sessionId: string | null, opts: JourneyRunOptions = {}): Promise<JourneyRun> {
  const events = applyJourney(sim, journey, sessionId, opts);
  const deliveries = opts.deliver === false ? [] : await sim.track(sim.deliver(events, opts));
  return { events: clone(events), deliveries };
}

/** An add-on item belongs to a plan: refused on any other journey, before anything else is looked at. */
export function checkAddOn(journey: Journey, addOnPriceId: string | undefined): void {
  if (addOnPriceId !== undefined && !isSubscriptionJourney(journey)) throw new SimulatorError(400, `An add-on is for subscription journeys; ${journey} is not one.`);
}

/**
 * Move the session through the journey: state now matches what its events say. Events of a
 * `fail` type are marked to fail processing. A `drop` or `fail` type the journey does not emit
 * is refused before anything changes.
 */
export function applyJourney(sim: SimulatorCore, journey: Journey, sessionId: string | null, opts: ApplyOptions = {}): StripeEvent[] {
  const startAt = opts.startAt ?? nowSeconds();
  if (!isJourney(journey)) throw new SimulatorError(400, `Unknown journey '${String(journey)}'; valid journeys: ${ALL_JOURNEYS.join(', ')}`);
  checkAddOn(journey, opts.addOnPriceId);
  const wanted = journeyMode(journey);
  if (wanted === null) {
    const raw = foreignJourneyEvents(journey as ForeignJourney, { amount: 2500, currency: 'usd', customerId: null, startAt, idSuffix: sim.idSuffix });
    checkEventOptions(journey, raw, opts);
    const events = raw.map((ev) => withObject(sim, ev, storeObject(sim.state, ev.data.object as StripeObject)));
    return record(sim, journey, events, opts, 'objects Settle never created');
  }
  const session = sessionId ? sim.state.checkoutSessions.get(sessionId) : undefined;
  const extras = sessionId ? sim.sessionExtras.get(sessionId) : undefined;
  if (!sessionId || !session || !extras) throw new SimulatorError(404, `No such checkout.session: '${sessionId ?? ''}'`);
  if (session.mode !== wanted) throw new SimulatorError(409, `${journey} simulates ${wanted}-mode Checkout; ${sessionId} is in ${String(session.mode)} mode.`);
  if (session.status !== 'open') throw new SimulatorError(409, `Checkout Session ${sessionId} is ${String(session.status)}; a journey needs an open session.`);
  const subscription = isSubscriptionJourney(journey);
  const metadata = session.metadata as Record<string, string>;
  const customerId = (session.customer as string | null) ?? null;
  const input = {
    orderId: metadata.orderId ?? (session.client_reference_id as string | null) ?? sessionId,
    checkoutSessionId: sessionId,
    amount: session.amount_total as number,
    currency: session.currency as string,
    customerId,
    startAt,
    idSuffix: sim.idSuffix,
  };
  let raw: StripeEvent[];
  if (subscription) {
    const price = (extras.lineItems[0]?.price ?? {}) as Record<string, unknown>;
    const targetPrice = targetPriceFor(sim.state, journey, opts.targetPriceId, input.amount, input.currency);
    const addOn = opts.addOnPriceId !== undefined ? addOnPrice(sim.state, opts.addOnPriceId, String(price.id ?? '')) : undefined;
    raw = subscriptionJourneyEvents(journey, {
      ...input,
      subscriptionMetadata: extras.subscriptionMetadata,
      priceId: String(price.id ?? 'price_unknown'),
      productId: String(price.product ?? 'prod_unknown'),
      productName: String(extras.lineItems[0]?.description ?? price.product ?? 'plan'),
      trialDays: extras.trialPeriodDays,
      ...(targetPrice ? { targetPrice } : {}),
      ...(addOn ? { addOn } : {}),
    });
  } else if ((INCIDENT_JOURNEYS as readonly string[]).includes(journey)) {
    raw = incidentJourneyEvents(journey as IncidentJourney, input);
  } else {
    raw = journeyEvents(journey as PaymentJourney, input);
  }
  checkEventOptions(journey, raw, opts);

  const s = sim.state;
  const events: StripeEvent[] = [];
  for (const ev of raw) {
    const obj = ev.data.object as StripeObject;
    let object: StripeObject;
    switch (obj.object) {
      case 'payment_intent':
        // A Checkout payment intent carries `payment_intent_data.metadata`, and nothing else.
        object = storeObject(s, { ...obj, metadata: { ...extras.paymentIntentMetadata } });
        break;
      case 'invoice':
        if (subscription) {
          // Subscriptions always invoice; the subscription's metadata rides on `parent`.
          // Its hosted page is the simulator's, where the customer can pay it (see subscription-recovery.ts).
          object = storeObject(s, {
            ...obj, customer: customerId, number: obj.number === null ? null : invoiceNumber(s, obj.id),
            hosted_invoice_url: obj.hosted_invoice_url === null ? null : sim.hostedInvoiceUrl(obj.id),
          });
          break;
        }
        // Checkout makes an invoice only when `invoice_creation[enabled]` was set.
        if (!extras.invoiceEnabled) continue;
        object = storeObject(s, { ...obj, metadata: { ...extras.invoiceMetadata }, customer: customerId, number: invoiceNumber(s, obj.id) });
        session.invoice = object.id;
        break;
      case 'checkout.session':
        object = completeSession(s, session, obj, subscription);
        break;
      default:
        object = storeObject(s, obj);
    }
    events.push(withObject(sim, ev, object));
  }
  return record(sim, journey, events, opts, `${sessionId}, session ${String(session.status)}/${String(session.payment_status)}`);
}

/** Refuse `drop`/`fail` types the journey does not emit, before anything changes. */
function checkEventOptions(journey: Journey, raw: StripeEvent[], opts: ApplyOptions): void {
  const emitted = new Set(raw.map((ev) => ev.type));
  for (const [option, types] of [['drop', opts.drop], ['fail', opts.fail]] as const) {
    const unknown = (types ?? []).filter((t) => !emitted.has(t));
    if (unknown.length) {
      throw new SimulatorError(400, `--${option} ${unknown.join(', ')}: ${journey} emits no such event; it emits ${[...emitted].join(', ')}`);
    }
  }
}

function withObject(sim: SimulatorCore, ev: StripeEvent, object: StripeObject): StripeEvent {
  return { ...ev, pending_webhooks: sim.webhook ? 1 : 0, data: { ...ev.data, object: clone(object) } };
}

function record(sim: SimulatorCore, journey: Journey, events: StripeEvent[], opts: ApplyOptions, on: string): StripeEvent[] {
  for (const ev of events) sim.state.events.set(ev.id, ev);
  noteEvents(sim.state, events);
  const fail = new Set(opts.fail ?? []);
  for (const ev of events) if (fail.has(ev.type)) sim.state.failing.add(ev.id);
  sim.persist();
  sim.log(`journey ${journey} on ${on}: ${events.length} events`);
  return events;
}

/** Where each kind of object a journey produces is kept (charges, refunds and disputes have rules of their own). */
const STORES = {
  payment_intent: 'paymentIntents',
  invoice: 'invoices',
  subscription: 'subscriptions',
  invoice_payment: 'invoicePayments',
  'checkout.session': 'checkoutSessions',
} as const satisfies Record<string, keyof SimulatorState>;

/** Keep an object a journey produced where the API finds it; answers what is stored. */
function storeObject(s: SimulatorState, obj: StripeObject): StripeObject {
  switch (obj.object) {
    case 'charge': {
      const stored = { ...obj, disputed: s.charges.get(obj.id)?.disputed ?? obj.disputed };
      s.charges.set(obj.id, stored);
      return stored;
    }
    case 'refund': {
      // A refund that fails gives its amount back to the charge.
      const before = s.refunds.get(obj.id);
      const charge = typeof obj.charge === 'string' ? s.charges.get(obj.charge) : undefined;
      if (obj.status === 'failed' && before && before.status !== 'failed' && charge) {
        const refunded = Math.max(0, ((charge.amount_refunded as number | undefined) ?? 0) - (obj.amount as number));
        Object.assign(charge, { amount_refunded: refunded, refunded: false });
      }
      s.refunds.set(obj.id, obj);
      return obj;
    }
    case 'dispute': {
      s.disputes.set(obj.id, obj);
      const charge = typeof obj.charge === 'string' ? s.charges.get(obj.charge) : undefined;
      if (charge) charge.disputed = true;
      return obj;
    }
    default: {
      const store = (STORES as Record<string, (typeof STORES)[keyof typeof STORES]>)[obj.object];
      if (store) s[store].set(obj.id, obj);
      return obj;
    }
  }
}

/** The Settle session completes (or expires) as the journey's session event says. */
function completeSession(s: SimulatorState, session: StripeObject, obj: StripeObject, subscription: boolean): StripeObject {
  const customerId = (session.customer as string | null) ?? null;
  const customer = customerId ? s.customers.get(customerId) : undefined;
  const details = isRecord(obj.customer_details) ? obj.customer_details : {};
  Object.assign(session, {
    status: obj.status,
    payment_status: obj.payment_status,
    payment_intent: obj.payment_intent,
    ...(subscription ? { subscription: obj.subscription, invoice: obj.invoice, amount_total: obj.amount_total, total_details: obj.total_details } : {}),
    url: obj.status === 'open' ? session.url : null,
    customer_details: obj.status === 'complete'
      ? {
          address: null,
          email: (session.customer_email as string | null) ?? (customer?.email as string | null | undefined) ?? details.email ?? null,
          name: (customer?.name as string | null | undefined) ?? details.name ?? null,
          phone: null,
          tax_exempt: 'none',
          tax_ids: [],
        }
      : session.customer_details,
  });
  return session;
}

/**
 * The price an upgrade or downgrade moves to: the one asked for (any id; a known price keeps its
 * amount), else the nearest known recurring price above (upgrade) or below (downgrade) in the
 * same currency, else none (the journey makes one up).
 */
function targetPriceFor(s: SimulatorState, journey: Journey, id: string | undefined, amount: number, currency: string): PlanPrice | undefined {
  const direction = journey === 'subscription_upgrade' ? 1 : journey === 'subscription_downgrade' ? -1 : 0;
  if (direction === 0) return undefined;
  const asPlan = (priceId: string, known: { unit_amount: number; product?: string; name?: string }): PlanPrice => ({
    id: priceId, product: known.product ?? `prod_${priceId}`, amount: known.unit_amount, name: known.name ?? priceId,
  });
  if (id) {
    const known = s.prices.get(id);
    return asPlan(id, known ?? { unit_amount: direction > 0 ? amount * 2 : Math.floor(amount / 2) });
  }
  const candidates = [...s.prices.entries()]
    .filter(([, p]) => p.recurring && p.currency.toLowerCase() === currency && (direction > 0 ? p.unit_amount > amount : p.unit_amount < amount))
    .sort((a, b) => (a[1].unit_amount - b[1].unit_amount) * direction);
  const nearest = candidates[0];
  return nearest ? asPlan(nearest[0], nearest[1]) : undefined;
}

/** An add-on item's price: a known price keeps its amount and product; any other id is a made-up $3.00 one. */
function addOnPrice(s: SimulatorState, id: string, planPriceId: string): PlanPrice {
  if (!/^[A-Za-z0-9_]+$/.test(id)) throw new SimulatorError(400, `An add-on price id is letters, digits and underscores; got '${id}'.`);
  if (id === planPriceId) throw new SimulatorError(400, `The add-on ${id} is the plan's own price; name another one (e.g. price_seats).`);
  const known = s.prices.get(id);
  return { id, product: known?.product ?? `prod_${id}`, amount: known?.unit_amount ?? 300, name: known?.name ?? id };
}
