import type { Db } from '../database.js';

export async function findStripeCustomer(db: Db, userId: string): Promise<string | undefined> {
  const row = await db.selectFrom('stripe_customers').select('stripe_customer_id').where('user_id', '=', userId).executeTakeFirst();
  return row?.stripe_customer_id;
}

/** Remember a user's Stripe customer; if another request won the race, returns the one stored. */
export async function saveStripeCustomer(db: Db, userId: string, stripeCustomerId: string): Promise<string> {
  await db.insertInto('stripe_customers').values({ user_id: userId, stripe_customer_id: stripeCustomerId })
    .onConflict((oc) => oc.column('user_id').doNothing()).execute();
  return (await findStripeCustomer(db, userId)) ?? stripeCustomerId;
}
