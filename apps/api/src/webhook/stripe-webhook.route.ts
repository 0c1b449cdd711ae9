import type { InboxWriter, NewStripeEvent } from '@settle/db';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import Stripe from 'stripe';
import { z } from 'zod';
import type { Metrics } from '../lib/metrics.js';
import { errorMessage } from '../lib/errors.js';
import { isThinNotificationBody, verifyThinNotification } from './thin-event.js';

export const WEBHOOK_BODY_LIMIT = 1024 * 1024;

/** The envelope every Stripe event has; anything else is refused before it is stored. */
const StripeEventEnvelope = z.object({
  id: z.string().regex(/^evt_[A-Za-z0-9_]+$/).max(255),
  object: z.literal('event'),
  type: z.string().min(1).max(255),
  created: z.number().int().positive(),
  api_version: z.string().nullable().optional(),
  livemode: z.boolean().optional(),
  data: z.object({ object: z.record(z.string(), z.unknown()) }),
});

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

  app.post('/webhooks/stripe', { bodyLimit: WEBHOOK_BODY_LIMIT }, async (req, reply) => {
    deps.inFlight?.enter();
    try {
      return await receive(req, reply);
    } finally {
      deps.inFlight?.leave();
    }
  });

  async function receive(req: FastifyRequest, reply: FastifyReply) {
    const refuse = (status: number, outcome: string, error: string) => {
      deps.metrics.webhookRequests.inc({ outcome });
      return reply.code(status).send({ error });
    };
    const body = req.body;
    const signature = req.headers['stripe-signature'];
    if (!Buffer.isBuffer(body) || body.length === 0) return refuse(400, 'bad_request', 'empty body');
    if (typeof signature !== 'string' || signature.length === 0) return refuse(400, 'bad_signature', 'missing Stripe-Signature header');
    if (deps.secrets.length === 0) return refuse(500, 'misconfigured', 'no webhook secret configured');
    if (isThinNotificationBody(body)) {
      const thin = verifyThinNotification(body, signature, deps.secrets, deps.toleranceSeconds);
      return thin.ok ? store(req, reply, thin.row) : refuse(400, thin.outcome, thin.error);
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
    const envelope = StripeEventEnvelope.safeParse(json);
    if (!envelope.success) return refuse(400, 'bad_request', 'body is not a Stripe event');
    const event = envelope.data;
    const object = event.data.object;
    return store(req, reply, {
      id: event.id,
      type: event.type,
      object_id: typeof object.id === 'string' ? object.id.slice(0, 255) : null,
      stripe_created: new Date(event.created * 1000),
      api_version: event.api_version ?? null,
      livemode: event.livemode ?? false,
      payload: body.toString('utf8'),
    });
  }

  /** Store a verified event (snapshot or thin), then acknowledge: 2xx only after the commit. */
  async function store(req: FastifyRequest, reply: FastifyReply, row: NewStripeEvent) {
    let stored: boolean;
    try {
      stored = await deps.inbox.write(row);
    } catch (err) {
      req.log.error({ eventId: row.id, err: errorMessage(err) }, 'could not store Stripe event');
      deps.metrics.webhookRequests.inc({ outcome: 'store_failed' });
      return reply.code(503).send({ error: 'event not stored; retry later' });
    }
    deps.metrics.webhookRequests.inc({ outcome: stored ? 'stored' : 'duplicate' });
    reply.code(200).send({ received: true, duplicate: !stored });
    if (stored) deps.afterStore(row.id);
    return reply;
  }
}
