import type { Kysely } from 'kysely';

/** No query looks events up by object id; the index only cost every webhook insert. */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('stripe_events_object_idx').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.createIndex('stripe_events_object_idx').on('stripe_events').column('object_id').execute();
}
