import type { NewStripeEvent } from '@settle/db';
import Stripe from 'stripe';
import { z } from 'zod';

/**
 * Thin event notifications (event destinations, `"object": "v2.core.event"`): a type and a
 * reference, no object. They are verified with the official SDK's `parseEventNotification`,
 * stored in the inbox like any event, and resolved through the Stripe API when processed
 * (see `payments/thin-event-resolver.ts`).
 */

// Verification needs the SDK's signature helper only; this client never calls the API.
const notificationParser = new Stripe('sk_settle_verify_only');

const THIN_MARKER = Buffer.from('"v2.core.event"');

/** Whether a (signed) body is a thin notification rather than a snapshot event. */
export function isThinNotificationBody(body: Buffer): boolean {
  if (!body.includes(THIN_MARKER)) return false;
  try {
    return (JSON.parse(body.toString('utf8')) as { object?: unknown }).object === 'v2.core.event';
  } catch {
    return false;
  }
}

const ThinNotificationEnvelope = z.object({
  id: z.string().regex(/^evt_[A-Za-z0-9_]+$/).max(255),
  object: z.literal('v2.core.event'),
  type: z.string().min(1).max(255),
  created: z.string().datetime({ offset: true }),
  livemode: z.boolean().optional(),
  snapshot_event: z.string().max(255).optional().nullable(),
  // A singleton's (`v1.balance.available`, `v1.customer.discount.*`) names no id: only its type and url.
  related_object: z.object({ id: z.string().max(255).optional(), type: z.string(), url: z.string() }).nullable().optional(),
});

export type ThinVerification =
  | { ok: true; row: NewStripeEvent }
  | { ok: false; outcome: 'bad_signature' | 'bad_request'; error: string };

/** Verify a thin notification against every configured secret and build its inbox row. */
export function verifyThinNotification(body: Buffer, signature: string, secrets: string[], toleranceSeconds: number): ThinVerification {
  let parsed: unknown = null;
  let lastError = 'invalid signature';
  for (const secret of secrets) {
    try {
      parsed = notificationParser.parseEventNotification(body, signature, secret, toleranceSeconds);
      break;
    } catch (err) {
      if (!(err instanceof Stripe.errors.StripeSignatureVerificationError)) return { ok: false, outcome: 'bad_request', error: 'body is not a Stripe event notification' };
      lastError = /tolerance/i.test(err.message) ? 'timestamp outside the tolerance zone' : 'invalid signature';
    }
  }
  if (parsed === null) return { ok: false, outcome: 'bad_signature', error: lastError };
  const envelope = ThinNotificationEnvelope.safeParse(parsed);
  if (!envelope.success) return { ok: false, outcome: 'bad_request', error: 'body is not a Stripe event notification' };
  const n = envelope.data;
  return {
    ok: true,
    row: {
      id: n.id,
      type: n.type,
      object_id: n.related_object?.id ?? null,
      stripe_created: new Date(n.created),
      api_version: null,
      livemode: n.livemode ?? false,
      payload: body.toString('utf8'),
    },
  };
}
