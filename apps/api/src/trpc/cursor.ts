import { z } from 'zod';
import { domainError } from './trpc.js';

const CursorSchema = z.object({ createdAt: z.string().datetime(), id: z.string().min(1).max(255) });
export type Cursor = z.infer<typeof CursorSchema>;

/** Keyset cursors are opaque to clients: base64url of the last row's sort key. */
export function encodeCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify(c)).toString('base64url');
}

export function decodeCursor(raw: string): Cursor {
  try {
    return CursorSchema.parse(JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')));
  } catch {
    throw domainError('INVALID', 'cursor is not valid');
  }
}
