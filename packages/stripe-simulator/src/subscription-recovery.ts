/**
 * How a subscription that stopped being paid for comes back, as Stripe does it: resuming a paused
 * one (`POST /v1/subscriptions/:id/resume`, which bills a new period on a resumption invoice),
 * and paying an open invoice on its hosted page (what brings an `unpaid` or `past_due`
 * subscription back to `active`, and makes a resumed one active). Events in current (basil and
 * later) shapes: the PaymentIntent names no invoice; `invoice_payment.paid` links them.
 */
import { SimulatorError, type SimulatorCore } from './core.js';
import { expand } from './expand.js';
import { allowOnly, invalid, isRecord, noSuch, optEnum, type RequestContext, type Reply } from './stripe-api.js';
import { event, rand, type StripeEvent } from './stripe-events.js';
import { SUBSCRIPTION_PERIOD_S, subscriptionObjects, type InvoiceLine, type PlanPrice } from './subscription-objects.js';
import { clone, invoiceNumber, simulatedNow, type StripeObject } from './state.js';

type Item = { id: string; quantity?: number; current_period_start: number; current_period_end: number; price: { id: string; product: string; unit_amount: number } };

/** Statuses a paid latest invoice ends: Stripe makes the subscription `active` again. */
const BACK_TO_ACTIVE = ['unpaid', 'past_due', 'paused', 'incomplete'];

function itemsOf(sub: StripeObject): Item[] {
  return (sub.items as { data: Item[] }).data;
}

/** The journey object factory for a stored subscription: its ids, customer, currency and metadata. */
function objectsOf(sim: SimulatorCore, sub: StripeObject, paymentMethod: string | null) {
  const items = itemsOf(sub);
  // Add-ons come first (see subscription-objects.ts): the plan is the last item.
  const plan = items.at(-1)!;
  return subscriptionObjects({
    orderId: String((sub.metadata as Record<string, string>).orderId ?? ''),
    checkoutSessionId: '',
    amount: plan.price.unit_amount,
    currency: String(sub.currency),
    customerId: (sub.customer as string | null) ?? null,
    startAt: Number(sub.start_date),
    idSuffix: sim.idSuffix,
    subscriptionMetadata: { ...(sub.metadata as Record<string, string>) },
    priceId: plan.price.id,
    productId: plan.price.product,
    productName: sim.state.prices.get(plan.price.id)?.name ?? plan.price.product,
    ids: { subscription: sub.id, item: plan.id, paymentMethod },
  });
}

function priceOf(sim: SimulatorCore, item: Item): PlanPrice {
  return { id: item.price.id, product: item.price.product, amount: item.price.unit_amount, name: sim.state.prices.get(item.price.id)?.name ?? item.price.product };
}

/** A finalized subscription invoice as the API keeps it: numbered, payable on the simulator's hosted page. */
function finalized(sim: SimulatorCore, invoice: Record<string, unknown> & { id: string }): StripeObject {
  return { ...invoice, object: 'invoice', number: invoiceNumber(sim.state, invoice.id), hosted_invoice_url: sim.hostedInvoiceUrl(invoice.id) };
}

/**
 * `POST /v1/subscriptions/:id/resume`: a paused subscription starts a new period now, billed on a
 * resumption invoice that is finalized at once. With the default `resume_on_payment_attempt` the
 * subscription stays `paused` until the invoice is paid (its hosted page); an invoice the
 * customer's credit balance covers is paid at once and the subscription is `active` in the answer.
 * `resume_on_payment_success` charges the payment method on file, if any, in the request.
 */
export function resumeSubscription(sim: SimulatorCore, ctx: RequestContext, id: string): Reply {
  const p = ctx.params;
  allowOnly(p, ['billing_cycle_anchor', 'expand', 'payment_behavior', 'proration_behavior', 'proration_date']);
  const anchor = isRecord(p.billing_cycle_anchor)
    ? optEnum(p.billing_cycle_anchor.type, 'billing_cycle_anchor[type]', ['now', 'unchanged'] as const)
    : optEnum(p.billing_cycle_anchor, 'billing_cycle_anchor', ['now', 'unchanged'] as const);
  if (anchor === 'unchanged') throw invalid('The Settle Stripe simulator resumes with billing_cycle_anchor=now only (no prorations).', { param: 'billing_cycle_anchor' });
  const behavior = optEnum(p.payment_behavior, 'payment_behavior', ['resume_on_payment_attempt', 'resume_on_payment_success'] as const) ?? 'resume_on_payment_attempt';
  optEnum(p.proration_behavior, 'proration_behavior', ['always_invoice', 'create_prorations', 'none'] as const);
  const sub = sim.state.subscriptions.get(id);
  if (!sub) throw noSuch('subscription', id);
  if (sub.status !== 'paused') throw invalid(`Subscription ${id} cannot be resumed because its status is ${String(sub.status)}; only a paused subscription can be resumed.`);
  if (sub.collection_method !== 'charge_automatically') throw invalid('Only subscriptions with collection_method=charge_automatically can be resumed.');

  const now = simulatedNow(sim.state);
  const end = now + SUBSCRIPTION_PERIOD_S;
  const o = objectsOf(sim, sub, null);
  const items = itemsOf(sub);
  const lines: InvoiceLine[] = items.map((item) => ({ amount: item.price.unit_amount * (item.quantity ?? 1), price: priceOf(sim, item), start: now, end }));
  const invoiceId = o.newInvoice();
  const customer = typeof sub.customer === 'string' ? sim.state.customers.get(sub.customer) : undefined;
  const balance = typeof customer?.balance === 'number' ? customer.balance : 0;
  const total = o.invoice({ id: invoiceId, reason: 'subscription_update', status: 'draft', periodStart: now, at: now, lines }).amount_due;
  // A negative balance is the customer's credit: Stripe applies it to the invoice first.
  const credit = balance < 0 ? Math.min(total, -balance) : 0;
  const due = total - credit;
  const invoiceAs = (status: 'draft' | 'open' | 'paid') => {
    const inv = o.invoice({ id: invoiceId, reason: 'subscription_update', status, periodStart: now, at: now, lines });
    const shaped = {
      ...inv, amount_due: due, amount_paid: status === 'paid' ? due : 0, amount_remaining: status === 'paid' ? 0 : due,
      starting_balance: balance, ending_balance: status === 'draft' ? null : balance + credit,
    };
    return status === 'draft' ? (shaped as unknown as StripeObject) : finalized(sim, shaped);
  };
  if (customer && credit > 0) customer.balance = balance + credit;

  const moved: StripeObject = {
    ...clone(sub),
    billing_cycle_anchor: now,
    latest_invoice: invoiceId,
    items: { ...(sub.items as object), data: items.map((item) => ({ ...clone(item), current_period_start: now, current_period_end: end })) },
  };
  const previous = { billing_cycle_anchor: sub.billing_cycle_anchor, latest_invoice: sub.latest_invoice, items: clone(sub.items) };
  const events: StripeEvent[] = [sim.apiEvent('invoice.created', invoiceAs('draft'), ctx)];
  const open = invoiceAs('open');
  if (due === 0) {
    const paid = invoiceAs('paid');
    moved.status = 'active';
    sim.state.invoices.set(invoiceId, paid);
    sim.state.subscriptions.set(id, moved);
    events.push(
      sim.apiEvent('invoice.finalized', open, ctx),
      sim.apiEvent('invoice.paid', paid, ctx),
      sim.apiEvent('invoice.payment_succeeded', paid, ctx),
      sim.apiEvent('customer.subscription.resumed', moved, ctx),
      sim.apiEvent('customer.subscription.updated', moved, ctx, { ...previous, status: 'paused' }),
    );
  } else {
    sim.state.invoices.set(invoiceId, open);
    sim.state.subscriptions.set(id, moved);
    events.push(sim.apiEvent('invoice.finalized', open, ctx), sim.apiEvent('customer.subscription.updated', moved, ctx, previous));
    const onFile = typeof sub.default_payment_method === 'string' ? sub.default_payment_method : null;
    if (behavior === 'resume_on_payment_success' && onFile) events.push(...payInvoice(sim, invoiceId, onFile));
  }
  sim.emit(events);
  return { status: 200, body: expand(sim, clone(sim.state.subscriptions.get(id)!), p) };
}

/**
 * The customer pays an open subscription invoice (its hosted page, or the card on file): a
 * PaymentIntent and its charge succeed, an invoice payment links them, the invoice is paid and,
 * when it is the subscription's latest, an `unpaid`, `past_due`, `paused` or `incomplete`
 * subscription becomes `active` (a paused one is `resumed` too). Answers the events, recorded but
 * not yet delivered.
 */
export function payInvoice(sim: SimulatorCore, invoiceId: string, paymentMethod: string = rand('pm', sim.idSuffix)): StripeEvent[] {
  const invoice = sim.state.invoices.get(invoiceId);
  if (!invoice) throw new SimulatorError(404, `No such invoice: '${invoiceId}'`);
  if (invoice.status !== 'open') throw new SimulatorError(409, `Invoice ${invoiceId} is ${String(invoice.status)}; only an open invoice can be paid.`);
  const subscriptionId = (invoice.parent as { subscription_details?: { subscription?: string } } | null)?.subscription_details?.subscription;
  const sub = subscriptionId ? sim.state.subscriptions.get(subscriptionId) : undefined;
  if (!sub) throw new SimulatorError(409, `Invoice ${invoiceId} belongs to no subscription the simulator knows; it pays subscription invoices only.`);
  const at = simulatedNow(sim.state);
  const amount = Number(invoice.amount_remaining ?? invoice.amount_due);
  const c = objectsOf(sim, sub, paymentMethod).collection(invoiceId, amount, at, invoice.billing_reason === 'subscription_create' ? 'Subscription creation' : 'Subscription update');
  const chargeId = c.newCharge();
  const e = (type: string, obj: Record<string, unknown>, previous?: Record<string, unknown>) => event(type, at, clone(obj), sim.idSuffix, previous);
  const intent = c.intent('succeeded', { charge: chargeId }) as StripeObject;
  const charge = c.charge(chargeId, 'succeeded', at) as StripeObject;
  const link = c.invoicePayment('paid', at) as StripeObject;
  const transitions = (invoice.status_transitions ?? {}) as Record<string, unknown>;
  const paid: StripeObject = {
    ...clone(invoice), status: 'paid', amount_paid: Number(invoice.amount_paid ?? 0) + amount, amount_remaining: 0, attempted: true,
    attempt_count: Number(invoice.attempt_count ?? 0) + 1, next_payment_attempt: null, status_transitions: { ...transitions, paid_at: at },
  };
  sim.state.paymentIntents.set(intent.id, intent);
  sim.state.charges.set(chargeId, charge);
  sim.state.invoicePayments.set(link.id, link);
  sim.state.invoices.set(invoiceId, paid);
  const events = [
    e('payment_intent.created', c.intent('requires_payment_method')),
    e('charge.succeeded', charge),
    e('payment_intent.succeeded', intent),
    e('invoice_payment.paid', link),
    e('invoice.paid', paid),
    e('invoice.payment_succeeded', paid),
  ];
  const before = String(sub.status);
  if (sub.latest_invoice === invoiceId && BACK_TO_ACTIVE.includes(before)) {
    const active: StripeObject = { ...clone(sub), status: 'active' };
    sim.state.subscriptions.set(sub.id, active);
    if (before === 'paused') events.push(e('customer.subscription.resumed', active));
    events.push(e('customer.subscription.updated', active, { status: before }));
  }
  return events;
}
