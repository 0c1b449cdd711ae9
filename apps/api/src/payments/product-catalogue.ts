import { readFileSync } from 'node:fs';
import { z } from 'zod';
import type { GrantSpec, PlanOfPrice } from '@settle/payments-core';
import { PermanentError } from '../lib/errors.js';

const ProductSchema = z.object({
  id: z.string().min(1),
  name: z.string().min(1),
  mode: z.enum(['payment', 'subscription']),
  stripePriceId: z.string().min(1).nullable().default(null),
  amount: z.number().int().positive(),
  currency: z.string().length(3).transform((c) => c.toLowerCase()),
  grant: z.union([z.object({ credits: z.number().int().positive() }), z.object({ plan: z.string().min(1) })]),
  /** What a partial refund takes back of granted credits (a full refund takes them all). */
  partialRefund: z.enum(['proportional', 'none']).default('proportional'),
  /** A plan's free trial: Checkout asks Stripe for `subscription_data.trial_period_days`. */
  trialDays: z.number().int().min(1).max(730).optional(),
}).refine((p) => p.trialDays === undefined || p.mode === 'subscription', { message: 'trialDays is for subscription products', path: ['trialDays'] })
  .refine((p) => p.mode === 'payment' || 'plan' in p.grant, { message: 'a subscription product grants a plan', path: ['grant'] });
export type Product = z.infer<typeof ProductSchema>;

/** Parity with the open-saas demo: a credits pack and the hobby and pro plans. */
export const DEMO_PRODUCTS: Product[] = [
  { id: 'credits10', name: '10 credits', mode: 'payment', stripePriceId: null, amount: 995, currency: 'usd', grant: { credits: 10 }, partialRefund: 'proportional' },
  { id: 'hobby', name: 'Hobby plan', mode: 'subscription', stripePriceId: 'price_hobby_monthly', amount: 999, currency: 'usd', grant: { plan: 'hobby' }, partialRefund: 'none' },
  { id: 'pro', name: 'Pro plan', mode: 'subscription', stripePriceId: 'price_pro_monthly', amount: 1999, currency: 'usd', grant: { plan: 'pro' }, partialRefund: 'none' },
];

/** The demo catalogue's prices as Stripe (or the simulator) must know them. */
export function catalogueStripePrices(products: readonly Product[]) {
  return Object.fromEntries(products.filter((p) => p.stripePriceId).map((p) => [p.stripePriceId!, {
    unit_amount: p.amount, currency: p.currency, name: p.name, product: `prod_${p.id}`,
    recurring: p.mode === 'subscription' ? { interval: 'month' as const } : null,
  }]));
}

export type ProductCatalogue = {
  list(): Product[];
  get(id: string): Product | undefined;
  /** What an order of `quantity` grants. */
  grantFor(product: Product, quantity: number): GrantSpec;
  /** The subscription product sold at a Stripe price (how plan changes are recognised). */
  byStripePrice(priceId: string): Product | undefined;
  /**
   * How a subscription started by an order of `product` reads its item's price: the plan of
   * that catalogue price, or null (not in the catalogue: review). A product sold with an inline
   * price (no `stripePriceId`) has a price id Stripe made up, so its plan cannot be followed by
   * price: any price not in the catalogue is then read as the product's own plan.
   */
  planOfPriceFor(product: Product): PlanOfPrice;
  /** The plan of a catalogue price, or null for any price the catalogue does not list. */
  planOfPrice: PlanOfPrice;
};

export function createCatalogue(products: Product[]): ProductCatalogue {
  const byId = new Map(products.map((p) => [p.id, p]));
  const byPrice = new Map(products.filter((p) => p.mode === 'subscription' && p.stripePriceId).map((p) => [p.stripePriceId!, p]));
  const planOf = (p: Product | undefined) => (p && 'plan' in p.grant ? p.grant.plan : null);
  return {
    list: () => [...products],
    get: (id) => byId.get(id),
    byStripePrice: (priceId) => byPrice.get(priceId),
    planOfPriceFor: (product) => (priceId) => planOf(byPrice.get(priceId)) ?? (product.stripePriceId ? null : planOf(product)),
    planOfPrice: (priceId) => planOf(byPrice.get(priceId)),
    grantFor: (product, quantity) =>
      'credits' in product.grant
        ? { kind: 'credits', credits: product.grant.credits * quantity, partialRefund: product.partialRefund }
        : { kind: 'plan', plan: product.grant.plan },
  };
}

const StoredGrant = z.union([
  z.object({ kind: z.literal('credits'), credits: z.number().int().nonnegative(), partialRefund: z.enum(['proportional', 'none']) }),
  z.object({ kind: z.literal('plan'), plan: z.string().min(1) }),
]);

/**
 * What an order grants: what its checkout stored (the catalogue of the day it was sold), or, for an
 * order from before that was kept, what its product grants by today's catalogue.
 */
export function grantOfOrder(catalogue: ProductCatalogue, order: { id: string; product_id: string; quantity: number; grant_spec?: unknown }): GrantSpec {
  const stored = StoredGrant.safeParse(order.grant_spec);
  if (stored.success) return stored.data;
  return catalogue.grantFor(productOfOrder(catalogue, order), order.quantity);
}

/** The product an order was bought as. An order whose product left the catalogue is a broken invariant. */
export function productOfOrder(catalogue: ProductCatalogue, order: { id: string; product_id: string }): Product {
  const product = catalogue.get(order.product_id);
  if (!product) throw new PermanentError(`order ${order.id} has product ${order.product_id}, which is not in the catalogue`);
  return product;
}

export function loadCatalogue(file: string | undefined): ProductCatalogue {
  if (!file) return createCatalogue(DEMO_PRODUCTS);
  const parsed = z.array(ProductSchema).min(1).safeParse(JSON.parse(readFileSync(file, 'utf8')));
  if (!parsed.success) throw new Error(`PRODUCTS_FILE ${file} is invalid: ${parsed.error.message}`);
  return createCatalogue(parsed.data);
}
