/** Reading Stripe objects without the SDK's types: every field may be missing or of another type. */
export type Obj = Record<string, unknown>;

export const asObj = (v: unknown): Obj => (typeof v === 'object' && v !== null ? (v as Obj) : {});
export const str = (v: unknown): string | null => (typeof v === 'string' && v.length > 0 ? v : null);
export const int = (v: unknown): number | null => (typeof v === 'number' && Number.isSafeInteger(v) ? v : null);
/** The id of a Stripe reference: Stripe expands some references into objects; both forms carry an id. */
export const idOf = (v: unknown): string | null => str(v) ?? str(asObj(v).id);
export const metaOrderId = (o: Obj): string | null => str(asObj(o.metadata).orderId);
export const asArray = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
