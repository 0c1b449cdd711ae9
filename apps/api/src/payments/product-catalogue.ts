import { readFileSync } from 'node:fs';
import { z } from 'zod';
import type { GrantSpec } from '@settle/payments-core';
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
});
export type Product = z.infer<typeof ProductSchema>;

/** Parity with the open-saas demo: a credits pack and the hobby and pro plans. */
export const DEMO_PRODUCTS: Product[] = [
  { id: 'credits10', name: '10 credits', mode: 'payment', stripePriceId: null, amount: 995, currency: 'usd', grant: { credits: 10 }, partialRefund: 'proportional' },
  { id: 'hobby', name: 'Hobby plan', mode: 'subscription', stripePriceId: null, amount: 999, currency: 'usd', grant: { plan: 'hobby' }, partialRefund: 'none' },
  { id: 'pro', name: 'Pro plan', mode: 'subscription', stripePriceId: null, amount: 1999, currency: 'usd', grant: { plan: 'pro' }, partialRefund: 'none' },
];

export type ProductCatalogue = {
  list(): Product[];
  get(id: string): Product | undefined;
  /** What an order of `quantity` grants. */
  grantFor(product: Product, quantity: number): GrantSpec;
};

export function createCatalogue(products: Product[]): ProductCatalogue {
  const byId = new Map(products.map((p) => [p.id, p]));
  return {
    list: () => [...products],
    get: (id) => byId.get(id),
    grantFor: (product, quantity) =>
      'credits' in product.grant
        ? { kind: 'credits', credits: product.grant.credits * quantity, partialRefund: product.partialRefund }
        : { kind: 'plan', plan: product.grant.plan },
  };
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
