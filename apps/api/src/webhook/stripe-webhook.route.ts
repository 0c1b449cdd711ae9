import { InboxBusyError, UnstorableEventError, type InboxWriter, type NewStripeEvent } from '@settle/db';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import Stripe from 'stripe';
import type { Metrics } from '../lib/metrics.js';
import { errorMessage } from '../lib/errors.js';
import { settledOnReceipt } from '../payments/stripe-event-resolver.js';
import { isThinNotificationBody, verifyThinNotification } from './thin-event.js';

export const WEBHOOK_BODY_LIMIT = 1024 * 1024;
/** Deeper JSON is refused: Stripe's events nest about ten levels, and PostgreSQL's jsonb gives up far below 20k. */
export const WEBHOOK_MAX_DEPTH = 64;
/** 9999-12-31T23:59:59Z: the last second both JavaScript dates and PostgreSQL timestamps hold. */
const MAX_CREATED = 253_402_300_799;

const EVENT_ID = /^evt_[A-Za-z0-9_]+$/;

type StripeEventEnvelope = {
  id: string;
  type: string;
  created: number;
  api_version?: string | null;
  livemode?: boolean;
  data: { object: Record<string, unknown> };
};

/**
 * The envelope every Stripe event has; anything else is refused before it is stored. Checked by
 * hand rather than with a schema library: it runs on every delivery, and a schema's record check
 * walks every key of `data.object` only to accept it.
 */
export function isStripeEventEnvelope(v: unknown): v is StripeEventEnvelope {
  if (!isPlainObject(v)) return false;
  const { id, object, type, created, api_version: apiVersion, livemode, data } = v;
  return (
    typeof id === 'string' &&
    id.length <= 255 &&
    EVENT_ID.test(id) &&
    object === 'event' &&
    typeof type === 'string' &&
    type.length >= 1 &&
    type.length <= 255 &&
    typeof created === 'number' &&
    Number.isInteger(created) &&
    created > 0 &&
    created <= MAX_CREATED &&
    (apiVersion === undefined || apiVersion === null || typeof apiVersion === 'string') &&
    (livemode === undefined || typeof livemode === 'boolean') &&
    isPlainObject(data) &&
    isPlainObject(data.object)
  );
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

// Acknowledgements are constant: written once, not serialised per request.
const ACK_STORED = '{"received":true,"duplicate":false}';
const ACK_DUPLICATE = '{"received":true,"duplicate":true}';
const JSON_CONTENT = 'application/json; charset=utf-8';

export type WebhookDeps = {
  /** Group-committing inbox writer. */
  inbox: InboxWriter;
  secrets: string[];
  toleranceSeconds: number;
  metrics: Metrics;
  /** Called after the event is durably stored and acknowledged. */
  afterStore: (eventId: string) => void;
  /** Counts requests in flight, so background processing can give way to acknowledgements. */
  inFlight?: { enter(): void; leave(): void };
};

// Signature checks need only the SDK's static helper; no API key is involved.
const webhooks = Stripe.webhooks;

/**
 * `POST /webhooks/stripe`: verify the signature against every configured secret, store the
 * event in the inbox (a redelivery stores nothing), answer 2xx only after the insert committed,
 * then hand the event to processing. No business logic runs before the reply.
 */
export async function stripeWebhookRoute(app: FastifyInstance, deps: WebhookDeps) {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: WEBHOOK_BODY_LIMIT }, (_req, body, done) => done(null, body));
  // No child logger per request (Fastify makes one for its request id): the route logs the event id instead.
  app.setChildLoggerFactory((logger) => logger);
  const counted = { stored: deps.metrics.webhookRequests.labels('stored'), duplicate: deps.metrics.webhookRequests.labels('duplicate') };
  const inFlight = deps.inFlight;

  app.post('/webhooks/stripe', { bodyLimit: WEBHOOK_BODY_LIMIT }, (req, reply) => {
    if (!inFlight) return receive(req, reply);
    inFlight.enter();
    return receive(req, reply).finally(() => inFlight.leave());
  });

  function refuseWith(reply: FastifyReply, status: number, outcome: string, error: string) {
    deps.metrics.webhookRequests.inc({ outcome });
    return reply.code(status).send({ error });
  }

  async function receive(req: FastifyRequest, reply: FastifyReply) {
    const refuse = (status: number, outcome: string, error: string) => refuseWith(reply, status, outcome, error);
    const body = req.body;
    const signature = req.headers['stripe-signature'];
    if (!Buffer.isBuffer(body) || body.length === 0) return refuse(400, 'bad_request', 'empty body');
    if (typeof signature !== 'string' || signature.length === 0) return refuse(400, 'bad_signature', 'missing Stripe-Signature header');
    if (deps.secrets.length === 0) return refuse(500, 'misconfigured', 'no webhook secret configured');
    if (isThinNotificationBody(body)) {
      const thin = verifyThinNotification(body, signature, deps.secrets, deps.toleranceSeconds);
      if (!thin.ok) return refuse(400, thin.outcome, thin.error);
      if (signedAt(signature) > Date.now() / 1000 + deps.toleranceSeconds) return refuse(400, 'bad_signature', 'timestamp outside the tolerance zone');
      return store(req, reply, settledOnReceipt(thin.row, true));
    }

    let json: unknown;
    let lastError: string | null = null;
    for (const secret of deps.secrets) {
      try {
        json = webhooks.constructEvent(body, signature, secret, deps.toleranceSeconds);
        lastError = null;
        break;
      } catch (err) {
        if (!(err instanceof Stripe.errors.StripeSignatureVerificationError)) {
          // The signature matched; the body itself does not parse.
          lastError = 'body is not JSON';
          break;
        }
        lastError = /tolerance/i.test(err.message) ? 'timestamp outside the tolerance zone' : 'invalid signature';
      }
    }
    if (lastError === 'body is not JSON') return refuse(400, 'bad_request', lastError);
    if (lastError !== null) return refuse(400, 'bad_signature', lastError);
    // The SDK checks the age of a signature but not a timestamp in the future.
    if (signedAt(signature) > Date.now() / 1000 + deps.toleranceSeconds) return refuse(400, 'bad_signature', 'timestamp outside the tolerance zone');
    if (nestingDepth(body) > WEBHOOK_MAX_DEPTH) return refuse(400, 'unstorable', `body nests deeper than ${WEBHOOK_MAX_DEPTH} levels`);
    if (!isStripeEventEnvelope(json)) return refuse(400, 'bad_request', 'body is not a Stripe event');
    const event = json;
    const object = event.data.object;
    return store(req, reply, settledOnReceipt({
      id: event.id,
      type: event.type,
      object_id: typeof object.id === 'string' ? object.id.slice(0, 255) : null,
      stripe_created: new Date(event.created * 1000),
      api_version: event.api_version ?? null,
      livemode: event.livemode ?? false,
      payload: body.toString('utf8'),
    }, false));
  }

  /** Store a verified event (snapshot or thin), then acknowledge: 2xx only after the commit. */
  async function store(req: FastifyRequest, reply: FastifyReply, row: NewStripeEvent) {
    const refuse = (status: number, outcome: string, error: string) => refuseWith(reply, status, outcome, error);
    let stored: boolean;
    try {
      stored = await deps.inbox.write(row);
    } catch (err) {
      if (err instanceof UnstorableEventError) {
        req.log.warn({ eventId: row.id, err: errorMessage(err) }, 'Stripe event refused: its payload cannot be stored');
        return refuse(400, 'unstorable', 'event payload cannot be stored');
      }
      if (err instanceof InboxBusyError) return refuse(503, 'store_busy', 'event not stored; retry later');
      req.log.warn({ eventId: row.id, err: errorMessage(err) }, 'could not store Stripe event');
      return refuse(503, 'store_failed', 'event not stored; retry later');
    }
    (stored ? counted.stored : counted.duplicate).inc();
    reply.code(200).header('content-type', JSON_CONTENT).send(stored ? ACK_STORED : ACK_DUPLICATE);
    if (stored && row.state === undefined) deps.afterStore(row.id);
    return reply;
  }
}


/** The `t=` of a `Stripe-Signature` header (seconds), or 0 when absent. */
function signedAt(header: string): number {
  const t = /(?:^|,)\s*t=(\d+)/.exec(header)?.[1];
  return t ? Number(t) : 0;
}

/** How deeply a JSON text nests objects and arrays (strings skipped), without building anything. */
export function nestingDepth(json: Buffer): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < json.length; i++) {
    const c = json[i];
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped byte
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) max = Math.max(max, ++depth);
    else if (c === 0x7d || c === 0x5d) depth--;
  }
  return max;
}
