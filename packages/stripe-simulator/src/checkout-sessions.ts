/** Checkout Sessions: create (line items priced, validated as Stripe does), line items, expire. */
import type { SimulatorCore } from './core.js';
import { expand, lineItemList } from './expand.js';
import {
  allowOnly, currencyParam, invalid, isRecord, metadataParam, noSuch, optBool, optEnum, optHash, optInt, optList, optString, required, urlParam,
  type RequestContext, type Reply,
} from './stripe-api.js';
import { clone, nowSeconds, randomId, type KnownPrice, type StripeObject } from './state.js';

// Top-level parameters Checkout Session creation accepts (from the SDK's SessionCreateParams); others get a 400.
const SESSION_CREATE_PARAMS = [
  'adaptive_pricing', 'after_expiration', 'allow_promotion_codes', 'allowed_payment_method_types', 'automatic_tax',
  'billing_address_collection', 'branding_settings', 'cancel_url', 'client_reference_id', 'consent_collection',
  'currency', 'custom_fields', 'custom_text', 'customer', 'customer_account', 'customer_creation', 'customer_email',
  'customer_update', 'discounts', 'excluded_payment_method_types', 'expand', 'expires_at', 'integration_identifier',
  'invoice_creation', 'line_items', 'locale', 'managed_payments', 'metadata', 'mode', 'name_collection',
  'optional_items', 'origin_context', 'payment_intent_data', 'payment_method_collection',
  'payment_method_configuration', 'payment_method_data', 'payment_method_options', 'payment_method_types',
  'permissions', 'phone_number_collection', 'redirect_on_completion', 'return_url', 'saved_payment_method_options',
  'setup_intent_data', 'shipping_address_collection', 'shipping_options', 'submit_type', 'subscription_data',
  'success_url', 'tax_id_collection', 'ui_mode', 'wallet_options',
] as const;

export function createSession(sim: SimulatorCore, ctx: RequestContext): Reply {
  const p = ctx.params;
  allowOnly(p, SESSION_CREATE_PARAMS);
  const mode = required(optString(p.mode, 'mode'), 'mode');
  if (mode === 'setup') throw invalid('The Settle Stripe simulator supports Checkout in `payment` and `subscription` mode only.', { param: 'mode' });
  if (mode !== 'payment' && mode !== 'subscription') throw invalid(`Invalid mode: must be one of payment, setup or subscription`, { param: 'mode' });
  const now = nowSeconds();

  const customerId = optString(p.customer, 'customer');
  const customerEmail = optString(p.customer_email, 'customer_email');
  if (customerId && customerEmail) {
    throw invalid('You may only specify one of these parameters: customer, customer_email.', { code: 'parameters_exclusive', param: 'customer_email' });
  }
  if (customerId && !sim.state.customers.has(customerId)) throw noSuch('customer', customerId, 'customer');

  // Line items and the amount.
  const rawItems = optList(p.line_items, 'line_items');
  if (!rawItems || rawItems.length === 0) throw invalid('Missing required param: line_items.', { code: 'parameter_missing', param: 'line_items' });
  if (rawItems.length > 100) throw invalid('You may only specify up to 100 line items.', { param: 'line_items' });
  let currency: string | null = null;
  let total = 0;
  let recurringCount = 0;
  const lineItems = rawItems.map((raw, i): StripeObject => {
    const param = `line_items[${i}]`;
    if (!isRecord(raw)) throw invalid('Invalid hash', { param });
    const quantity = required(optInt(raw.quantity, `${param}[quantity]`), `${param}[quantity]`);
    if (quantity < 1) throw invalid('This value must be greater than or equal to 1.', { code: 'parameter_invalid_integer', param: `${param}[quantity]` });
    const priceId = optString(raw.price, `${param}[price]`);
    const priceData = optHash(raw.price_data, `${param}[price_data]`);
    if (priceId && priceData) {
      throw invalid(`You may only specify one of these parameters: ${param}[price], ${param}[price_data].`, { code: 'parameters_exclusive', param: `${param}[price_data]` });
    }
    let price: { id: string; active: boolean; unit: number; decimal: string; currency: string; product: string; name: string; recurring: KnownPrice['recurring'] };
    if (priceId) {
      const known = sim.state.prices.get(priceId);
      if (!known) throw noSuch('price', priceId, `${param}[price]`);
      price = {
        id: priceId, active: true, unit: known.unit_amount, decimal: String(known.unit_amount), currency: known.currency.toLowerCase(),
        product: known.product ?? `prod_${randomId(14)}`, name: known.name ?? priceId, recurring: known.recurring ?? null,
      };
    } else if (priceData) {
      const pd = `${param}[price_data]`;
      const cur = currencyParam(priceData.currency, `${pd}[currency]`);
      const unit = optInt(priceData.unit_amount, `${pd}[unit_amount]`);
      const decimal = optString(priceData.unit_amount_decimal, `${pd}[unit_amount_decimal]`);
      if (unit !== undefined && decimal !== undefined) {
        throw invalid(`You may only specify one of these parameters: ${pd}[unit_amount], ${pd}[unit_amount_decimal].`, { code: 'parameters_exclusive', param: `${pd}[unit_amount]` });
      }
      if (unit === undefined && decimal === undefined) throw invalid(`Missing required param: ${pd}[unit_amount].`, { code: 'parameter_missing', param: `${pd}[unit_amount]` });
      if (decimal !== undefined && !/^\d+(\.\d{1,12})?$/.test(decimal)) throw invalid(`Invalid decimal: ${decimal}`, { param: `${pd}[unit_amount_decimal]` });
      const unitAmount = unit ?? Number(decimal);
      if (unitAmount < 0) throw invalid('This value must be greater than or equal to 0.', { param: `${pd}[unit_amount]` });
      const product = optString(priceData.product, `${pd}[product]`);
      const productData = optHash(priceData.product_data, `${pd}[product_data]`);
      if (product && productData) throw invalid(`You may only specify one of these parameters: ${pd}[product], ${pd}[product_data].`, { code: 'parameters_exclusive', param: `${pd}[product_data]` });
      if (!product && !productData) throw invalid(`Missing required param: ${pd}[product_data].`, { code: 'parameter_missing', param: `${pd}[product_data]` });
      const name = productData ? required(optString(productData.name, `${pd}[product_data][name]`), `${pd}[product_data][name]`) : product!;
      const recurringRaw = optHash(priceData.recurring, `${pd}[recurring]`);
      const recurring = recurringRaw
        ? {
            interval: required(optEnum(recurringRaw.interval, `${pd}[recurring][interval]`, ['day', 'week', 'month', 'year'] as const), `${pd}[recurring][interval]`),
            interval_count: optInt(recurringRaw.interval_count, `${pd}[recurring][interval_count]`) ?? 1,
          }
        : null;
      price = {
        id: `price_${randomId(24)}`, active: false, unit: unitAmount, decimal: decimal ?? String(unitAmount), currency: cur,
        product: product ?? `prod_${randomId(14)}`, name, recurring,
      };
    } else {
      throw invalid(`You must specify either \`price\` or \`price_data\` for ${param}.`, { code: 'parameter_missing', param: `${param}[price]` });
    }
    if (currency !== null && price.currency !== currency) {
      throw invalid(`All line items must use the same currency; ${param} is in ${price.currency}, earlier items in ${currency}.`, { param });
    }
    currency = price.currency;
    if (price.recurring) {
      recurringCount += 1;
      if (mode === 'payment') {
        throw invalid('You specified `payment` mode but passed a recurring price. Either switch to `subscription` mode or use only one-time prices.', { param });
      }
    }
    const amount = Math.round(price.unit * quantity);
    total += amount;
    return {
      id: `li_${randomId(24)}`,
      object: 'item',
      amount_discount: 0,
      amount_subtotal: amount,
      amount_tax: 0,
      amount_total: amount,
      currency: price.currency,
      description: price.name,
      metadata: metadataParam(raw.metadata, `${param}[metadata]`),
      price: {
        id: price.id, object: 'price', active: price.active, billing_scheme: 'per_unit', created: now, currency: price.currency,
        custom_unit_amount: null, livemode: false, lookup_key: null, metadata: {}, nickname: null, product: price.product,
        recurring: price.recurring
          ? { interval: price.recurring.interval, interval_count: price.recurring.interval_count ?? 1, meter: null, trial_period_days: null, usage_type: 'licensed' }
          : null,
        tax_behavior: 'unspecified', tiers_mode: null, transform_quantity: null, type: price.recurring ? 'recurring' : 'one_time',
        unit_amount: Number.isInteger(price.unit) ? price.unit : null, unit_amount_decimal: price.decimal,
      },
      quantity,
      adjustable_quantity: null,
    };
  });
  if (mode === 'subscription' && recurringCount === 0) {
    throw invalid('You must provide at least one recurring price in `subscription` mode when using prices.', { param: 'line_items' });
  }

  // What the payment intent and invoice will carry.
  const pid = optHash(p.payment_intent_data, 'payment_intent_data');
  if (pid && mode !== 'payment') throw invalid(`You can not pass \`payment_intent_data\` in \`${mode}\` mode.`, { param: 'payment_intent_data' });
  const ic = optHash(p.invoice_creation, 'invoice_creation');
  if (ic && mode !== 'payment') throw invalid('You can only use `invoice_creation` in `payment` mode.', { param: 'invoice_creation' });
  const invoiceEnabled = ic ? required(optBool(ic.enabled, 'invoice_creation[enabled]'), 'invoice_creation[enabled]') : false;
  const invoiceData = ic ? optHash(ic.invoice_data, 'invoice_creation[invoice_data]') : undefined;
  const invoiceMetadata = metadataParam(invoiceData?.metadata, 'invoice_creation[invoice_data][metadata]');
  const sd = optHash(p.subscription_data, 'subscription_data');
  if (sd && mode !== 'subscription') throw invalid(`You can not pass \`subscription_data\` in \`${mode}\` mode.`, { param: 'subscription_data' });
  const subscriptionMetadata = metadataParam(sd?.metadata, 'subscription_data[metadata]');
  const trialPeriodDays = optInt(sd?.trial_period_days, 'subscription_data[trial_period_days]') ?? null;
  if (trialPeriodDays !== null && (trialPeriodDays < 1 || trialPeriodDays > 730)) {
    throw invalid('The trial period must be between 1 and 730 days.', { param: 'subscription_data[trial_period_days]' });
  }

  const expiresAt = optInt(p.expires_at, 'expires_at') ?? now + 86_400;
  if (expiresAt < now + 1800) throw invalid('The `expires_at` timestamp must be at least 30 minutes from Checkout Session creation.', { param: 'expires_at' });
  if (expiresAt > now + 86_400) throw invalid('The `expires_at` timestamp must be less than 24 hours from Checkout Session creation.', { param: 'expires_at' });
  const uiMode = optString(p.ui_mode, 'ui_mode') ?? 'hosted';
  const hosted = uiMode === 'hosted' || uiMode === 'hosted_page';
  const id = `cs_test_a1${randomId(56)}`;
  const paymentMethodTypes = (optList(p.payment_method_types, 'payment_method_types') ?? ['card']).map((t, i) => required(optString(t, `payment_method_types[${i}]`), `payment_method_types[${i}]`));

  const session: StripeObject = {
    id,
    object: 'checkout.session',
    adaptive_pricing: { enabled: false },
    after_expiration: null,
    allow_promotion_codes: optBool(p.allow_promotion_codes, 'allow_promotion_codes') ?? null,
    amount_subtotal: total,
    amount_total: total,
    automatic_tax: { enabled: false, liability: null, provider: null, status: null },
    billing_address_collection: optString(p.billing_address_collection, 'billing_address_collection') ?? null,
    cancel_url: urlParam(p.cancel_url, 'cancel_url') ?? null,
    client_reference_id: optString(p.client_reference_id, 'client_reference_id') ?? null,
    client_secret: hosted ? null : `${id}_secret_${randomId(24)}`,
    collected_information: null,
    consent: null,
    consent_collection: null,
    created: now,
    currency,
    currency_conversion: null,
    custom_fields: [],
    custom_text: { after_submit: null, shipping_address: null, submit: null, terms_of_service_acceptance: null },
    customer: customerId ?? null,
    customer_account: null,
    customer_creation: customerId || mode === 'subscription' ? null : 'if_required',
    customer_details: null,
    customer_email: customerEmail ?? null,
    discounts: [],
    expires_at: expiresAt,
    invoice: null,
    invoice_creation: mode === 'payment'
      ? {
          enabled: invoiceEnabled,
          invoice_data: {
            account_tax_ids: null, custom_fields: null, description: optString(invoiceData?.description, 'invoice_creation[invoice_data][description]') ?? null,
            footer: null, issuer: null, metadata: invoiceEnabled ? invoiceMetadata : null, rendering_options: null,
          },
        }
      : null,
    livemode: false,
    locale: optString(p.locale, 'locale') ?? null,
    metadata: metadataParam(p.metadata),
    mode,
    origin_context: null,
    payment_intent: null,
    payment_link: null,
    payment_method_collection: mode === 'subscription' ? 'always' : 'if_required',
    payment_method_configuration_details: null,
    payment_method_options: {},
    payment_method_types: paymentMethodTypes,
    payment_status: 'unpaid',
    permissions: null,
    phone_number_collection: { enabled: false },
    recovered_from: null,
    saved_payment_method_options: null,
    setup_intent: null,
    shipping_address_collection: null,
    shipping_cost: null,
    shipping_options: [],
    status: 'open',
    submit_type: optString(p.submit_type, 'submit_type') ?? null,
    subscription: null,
    success_url: urlParam(p.success_url, 'success_url') ?? null,
    total_details: { amount_discount: 0, amount_shipping: 0, amount_tax: 0 },
    ui_mode: uiMode,
    url: hosted ? `${sim.url}/c/pay/${id}` : null,
    wallet_options: null,
  };
  sim.state.checkoutSessions.set(id, session);
  sim.sessionExtras.set(id, {
    paymentIntentMetadata: metadataParam(pid?.metadata, 'payment_intent_data[metadata]'),
    invoiceEnabled,
    invoiceMetadata,
    subscriptionMetadata,
    trialPeriodDays,
    lineItems,
  });
  return { status: 200, body: expand(sim, clone(session), p) };
}

export function sessionLineItems(sim: SimulatorCore, ctx: RequestContext, id: string): Reply {
  allowOnly(ctx.params, ['ending_before', 'expand', 'limit', 'starting_after']);
  if (!sim.state.checkoutSessions.has(id)) throw noSuch('checkout.session', id);
  return { status: 200, body: expand(sim, lineItemList(sim, id), ctx.params) };
}

export function expireSession(sim: SimulatorCore, ctx: RequestContext, id: string): Reply {
  allowOnly(ctx.params, ['expand']);
  const session = sim.state.checkoutSessions.get(id);
  if (!session) throw noSuch('checkout.session', id);
  if (session.status !== 'open') {
    throw invalid(`Only Checkout Sessions with a status in ["open"] can be expired. This Checkout Session has a status of "${String(session.status)}".`);
  }
  const previous = { status: session.status, url: session.url };
  Object.assign(session, { status: 'expired', url: null });
  sim.emit([sim.apiEvent('checkout.session.expired', session, ctx, previous)]);
  return { status: 200, body: expand(sim, clone(session), ctx.params) };
}
