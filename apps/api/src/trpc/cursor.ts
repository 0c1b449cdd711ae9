import { z } from 'zod';
import { domainError } from './trpc.js';

// Years 1970-9999 only: a forged year 0 would be refused by PostgreSQL (a 500) rather than here (a 400).
const CursorSchema = z.object({
  createdAt: z.string().datetime().refine((t) => /^(19[7-9]\d|[2-9]\d{3})-/.test(t), 'cursor time out of range'),
  id: z.string().min(1).max(255),
});
export type Cursor = z.infer<typeof CursorSchema>;

/** Keyset cursors are opaque to clients: base64url of the last row's sort key. */
export function encodeCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify(c)).toString('base64url');
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Decode a cursor; `uuidIds` for lists keyed by UUID (orders), so a forged id is a 400, not a 500. */
export function decodeCursor(raw: string, opts: { uuidIds?: boolean } = {}): Cursor {
  try {
    const c = CursorSchema.parse(JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')));
    if (opts.uuidIds && !UUID.test(c.id)) throw new Error('not a uuid');
    return c;
  } catch {
    throw domainError('INVALID', 'cursor is not valid');
  }
}
