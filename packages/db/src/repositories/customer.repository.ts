import type { Db, Trx } from '../database.js';

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

/** Whether a Stripe customer is one of Settle's (made for a user at checkout, or named by a subscription Settle keeps). */
export async function isSettleCustomer(db: Db | Trx, stripeCustomerId: string): Promise<boolean> {
  const known = await db
    .selectFrom('stripe_customers')
    .select('user_id as owner')
    .where('stripe_customer_id', '=', stripeCustomerId)
    .unionAll(db.selectFrom('subscriptions').select('user_id as owner').where('stripe_customer_id', '=', stripeCustomerId))
    .limit(1)
    .executeTakeFirst();
  return known !== undefined;
}
