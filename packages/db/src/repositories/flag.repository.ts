import { sql } from 'kysely';
import type { Db, Trx } from '../database.js';
import type { FeatureFlagRow, FlagMode, ShadowDisagreementRow } from '../tables/flag.table.js';

export async function listFeatureFlags(db: Db): Promise<FeatureFlagRow[]> {
  return db.selectFrom('feature_flags').selectAll().orderBy('name').execute();
}

export async function findFeatureFlag(db: Db | Trx, name: string): Promise<FeatureFlagRow | undefined> {
  return db.selectFrom('feature_flags').selectAll().where('name', '=', name).executeTakeFirst();
}

/** Create or change a flag; every change bumps its version. */
export async function saveFeatureFlag(
  db: Db | Trx,
  flag: { name: string; mode: FlagMode; rolloutPercent: number; updatedBy: string },
): Promise<FeatureFlagRow> {
  const values = { enabled: flag.mode !== 'legacy', mode: flag.mode, rollout_percent: flag.rolloutPercent, updated_by: flag.updatedBy };
  return db
    .insertInto('feature_flags')
    .values({ name: flag.name, ...values })
    .onConflict((oc) =>
      oc.column('name').doUpdateSet({ ...values, updated_at: sql`now()`, version: sql`feature_flags.version + 1` }),
    )
    .returningAll()
    .executeTakeFirstOrThrow();
}

export type NewShadowDisagreement = {
  orderId: string;
  eventId: string;
  kind: string;
  legacyStatus: string;
  newStatus: string;
  legacyOutcome: string;
  newOutcome: string;
};

/** Record a disagreement once per (order, event): a replay inserts nothing. Returns whether it was new. */
export async function insertShadowDisagreement(trx: Trx, d: NewShadowDisagreement): Promise<boolean> {
  const row = await trx
    .insertInto('shadow_disagreements')
    .values({
      order_id: d.orderId,
      event_id: d.eventId,
      kind: d.kind,
      legacy_status: d.legacyStatus,
      new_status: d.newStatus,
      legacy_outcome: d.legacyOutcome,
      new_outcome: d.newOutcome,
    })
    .onConflict((oc) => oc.constraint('shadow_disagreements_order_event_key').doNothing())
    .returning('id')
    .executeTakeFirst();
  return row !== undefined;
}

/**
 * `since`: disagreements recorded since then; `ordersSince`: disagreements of the orders created
 * since then, whenever recorded (the cohort `countOrdersByHandler` counts).
 */
export async function listShadowDisagreements(
  db: Db,
  opts: { since?: Date | undefined; ordersSince?: Date | undefined; kind?: string | undefined; limit: number },
): Promise<ShadowDisagreementRow[]> {
  let q = db.selectFrom('shadow_disagreements').selectAll('shadow_disagreements');
  if (opts.since) q = q.where('shadow_disagreements.created_at', '>=', opts.since);
  if (opts.ordersSince) q = q.where('shadow_disagreements.order_id', 'in', ordersCreatedSince(db, opts.ordersSince));
  if (opts.kind) q = q.where('shadow_disagreements.kind', '=', opts.kind);
  return q.orderBy('shadow_disagreements.created_at', 'desc').orderBy('shadow_disagreements.id', 'desc').limit(opts.limit).execute();
}

const ordersCreatedSince = (db: Db, since: Date) => db.selectFrom('orders').select('orders.id').where('orders.created_at', '>=', since);

export type DisagreementCount = { kind: string; disagreements: number; orders: number };

/** Disagreements by kind of the orders created since `ordersSince` (all without it), whenever recorded. */
export async function countShadowDisagreementsByKind(db: Db, opts: { ordersSince?: Date | undefined } = {}): Promise<DisagreementCount[]> {
  let q = db
    .selectFrom('shadow_disagreements')
    .select(['kind', sql<number>`count(*)::int`.as('n'), sql<number>`count(distinct order_id)::int`.as('orders')])
    .groupBy('kind');
  if (opts.ordersSince) q = q.where('order_id', 'in', ordersCreatedSince(db, opts.ordersSince));
  const rows = await q.orderBy('kind').execute();
  return rows.map((r) => ({ kind: r.kind, disagreements: Number(r.n), orders: Number(r.orders) }));
}

export type HandlerOutcomeCount = { handler: 'legacy' | 'new'; shadowed: boolean; status: string; orders: number };

/** Orders by the handler they were created under (and whether shadowed) and their status. */
export async function countOrdersByHandler(db: Db, opts: { since?: Date | undefined } = {}): Promise<HandlerOutcomeCount[]> {
  let q = db
    .selectFrom('orders')
    .select([
      'handler',
      'status',
      sql<boolean>`(shadow_state is not null)`.as('shadowed'),
      sql<number>`count(*)::int`.as('n'),
    ])
    .groupBy(['handler', 'status', sql`(shadow_state is not null)`]);
  if (opts.since) q = q.where('created_at', '>=', opts.since);
  const rows = await q.execute();
  return rows.map((r) => ({ handler: r.handler, shadowed: Boolean(r.shadowed), status: r.status, orders: Number(r.n) }));
}
