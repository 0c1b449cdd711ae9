/**
 * Running a scripted journey on a Checkout Session: the simulator's objects move as the journey's
 * events say (so the API answers what the webhooks told), then the events are delivered.
 */
import { SimulatorError, type JourneyRun, type JourneyRunOptions, type SimulatorCore } from './core.js';
import { ALL_JOURNEYS, isJourney, isSubscriptionJourney, journeyEvents, subscriptionJourneyEvents, type Journey, type PaymentJourney } from './journeys.js';
import { isRecord } from './stripe-api.js';
import type { StripeEvent } from './stripe-events.js';
import { clone, nowSeconds, type StripeObject } from './state.js';

export async function runJourney(sim: SimulatorCore, journey: Journey, sessionId: string, opts: JourneyRunOptions = {}): Promise<JourneyRun> {
  const events = applyJourney(sim, journey, sessionId, opts.startAt);
  const deliveries = opts.deliver === false ? [] : await sim.track(sim.deliver(events, opts));
  return { events: clone(events), deliveries };
}

/** Move the session through the journey: state now matches what its events say. */
export function applyJourney(sim: SimulatorCore, journey: Journey, sessionId: string, startAt = nowSeconds()): StripeEvent[] {
  if (!isJourney(journey)) throw new SimulatorError(400, `Unknown journey '${String(journey)}'; valid journeys: ${ALL_JOURNEYS.join(', ')}`);
  const subscription = isSubscriptionJourney(journey);
  const session = sim.state.checkoutSessions.get(sessionId);
  const extras = sim.sessionExtras.get(sessionId);
  if (!session || !extras) throw new SimulatorError(404, `No such checkout.session: '${sessionId}'`);
  const wanted = subscription ? 'subscription' : 'payment';
  if (session.mode !== wanted) throw new SimulatorError(409, `${journey} simulates ${wanted}-mode Checkout; ${sessionId} is in ${String(session.mode)} mode.`);
  if (session.status !== 'open') throw new SimulatorError(409, `Checkout Session ${sessionId} is ${String(session.status)}; a journey needs an open session.`);
  const metadata = session.metadata as Record<string, string>;
  const customerId = (session.customer as string | null) ?? null;
  const customer = customerId ? sim.state.customers.get(customerId) : undefined;
  const input = {
    orderId: metadata.orderId ?? (session.client_reference_id as string | null) ?? sessionId,
    checkoutSessionId: sessionId,
    amount: session.amount_total as number,
    currency: session.currency as string,
    customerId,
    startAt,
    idSuffix: sim.idSuffix,
  };
  const price = (extras.lineItems[0]?.price ?? {}) as Record<string, unknown>;
  const raw = subscription
    ? subscriptionJourneyEvents(journey, {
        ...input,
        subscriptionMetadata: extras.subscriptionMetadata,
        priceId: String(price.id ?? 'price_unknown'),
        productId: String(price.product ?? 'prod_unknown'),
        productName: String(extras.lineItems[0]?.description ?? price.product ?? 'plan'),
      })
    : journeyEvents(journey as PaymentJourney, input);
  const s = sim.state;
  const events: StripeEvent[] = [];
  for (const ev of raw) {
    const obj = ev.data.object as StripeObject;
    let object: StripeObject;
    switch (obj.object) {
      case 'payment_intent':
        // A Checkout payment intent carries `payment_intent_data.metadata`, and nothing else.
        object = { ...obj, metadata: { ...extras.paymentIntentMetadata } };
        s.paymentIntents.set(object.id, object);
        break;
      case 'charge':
        object = { ...obj, disputed: s.charges.get(obj.id)?.disputed ?? obj.disputed };
        s.charges.set(object.id, object);
        break;
      case 'refund':
        object = obj;
        s.refunds.set(object.id, object);
        break;
      case 'dispute': {
        object = obj;
        s.disputes.set(object.id, object);
        const charge = typeof obj.charge === 'string' ? s.charges.get(obj.charge) : undefined;
        if (charge) charge.disputed = true;
        break;
      }
      case 'invoice':
        if (subscription) {
          // Subscriptions always invoice; the subscription's metadata rides on `parent`.
          object = { ...obj, customer: customerId };
          s.invoices.set(object.id, object);
          break;
        }
        // Checkout makes an invoice only when `invoice_creation[enabled]` was set.
        if (!extras.invoiceEnabled) continue;
        object = { ...obj, metadata: { ...extras.invoiceMetadata }, customer: customerId };
        s.invoices.set(object.id, object);
        session.invoice = object.id;
        break;
      case 'subscription':
        object = obj;
        s.subscriptions.set(object.id, object);
        break;
      case 'checkout.session': {
        const details = isRecord(obj.customer_details) ? obj.customer_details : {};
        Object.assign(session, {
          status: obj.status,
          payment_status: obj.payment_status,
          payment_intent: obj.payment_intent,
          ...(subscription ? { subscription: obj.subscription, invoice: obj.invoice } : {}),
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
        object = session;
        break;
      }
      default:
        object = obj;
    }
    events.push({ ...ev, pending_webhooks: sim.webhook ? 1 : 0, data: { ...ev.data, object: clone(object) } });
  }
  for (const ev of events) s.events.set(ev.id, ev);
  sim.log(`journey ${journey} on ${sessionId}: ${events.length} events, session ${String(session.status)}/${String(session.payment_status)}`);
  return events;
}
