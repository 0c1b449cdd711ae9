/**
 * Stripe is never read inside a transaction. An event that needs Stripe (a thin notification, a
 * refund naming only its charge, a question processing asks through `StripeAsk`) stops its
 * attempt with `StripeReadFirst`; the inbox rolls back, reads Stripe here with no transaction
 * open, and runs the event again with the answers.
 */
import pLimit from 'p-limit';
import { resolveStoredEvent, type ResolvedEvent, type StripeAsk } from '../payments/stripe-event-resolver.js';

type StripeClient = Parameters<typeof resolveStoredEvent>[0];

/**
 * What Stripe answered for one event, asked before any transaction: its stored payload made
 * ready (`needsStripeRead`), and the questions an attempt stopped at (`StripeAsk`), by name.
 */
export type Answer = { value: unknown } | { error: unknown };
export type EventReads = { resolved?: { ready: ResolvedEvent } | { failed: unknown }; answers: ReadonlyMap<string, Answer> };
export type StripeReads = ReadonlyMap<string, EventReads>;
export const NO_READS: StripeReads = new Map();

/**
 * Rounds of "stop, read Stripe, run again" one attempt at an event may take (a refund of a charge:
 * the charge, then its PaymentIntent). An event still asking after them fails the attempt
 * (retried on the inbox's schedule, then dead): Stripe is never read inside a transaction.
 */
export const STRIPE_READ_ROUNDS = 4;

/**
 * Thrown inside a transaction for an event whose Stripe read was not made before it (rolled
 * back, read, run again): its stored payload (`question` null), or a question processing asked.
 */
export class StripeReadFirst extends Error {
  constructor(
    readonly eventId: string,
    readonly payload: unknown,
    readonly question: { name: string; read: () => Promise<unknown> } | null = null,
  ) {
    super(`event ${eventId} needs a Stripe read before its transaction${question ? ` (${question.name})` : ''}`);
  }
}

/**
 * Ask Stripe what the events need (`needsStripeRead`), several at once and outside any
 * transaction: a slow or failing Stripe then holds no row lock and no pooled connection. A
 * failed read is kept and surfaces when the event is processed (retried, then dead).
 */
export function createStripeReader(stripe: StripeClient, readsAtOnce: number) {
  const stripeSlots = pLimit(readsAtOnce);
  return async function readFromStripe(asked: ReadonlyMap<string, StripeReadFirst>, before: StripeReads): Promise<StripeReads> {
    const reads = new Map(before);
    await Promise.all(
      [...asked.values()].map(({ eventId, payload, question }) =>
        stripeSlots(async () => {
          const known = reads.get(eventId) ?? { answers: new Map<string, Answer>() };
          if (!question) {
            let resolved: EventReads['resolved'];
            try {
              resolved = { ready: await resolveStoredEvent(stripe, payload) };
            } catch (err) {
              resolved = { failed: err };
            }
            reads.set(eventId, { ...known, resolved });
            return;
          }
          let answer: Answer;
          try {
            answer = { value: await question.read() };
          } catch (err) {
            answer = { error: err };
          }
          reads.set(eventId, { ...known, answers: new Map(known.answers).set(question.name, answer) });
        }),
      ),
    );
    return reads;
  };
}

/** Answers `StripeAsk` questions from the reads made before this transaction; any other stops the attempt. */
export function askFrom(eventId: string, payload: unknown, known: EventReads | undefined): StripeAsk {
  return async <T>(name: string, read: () => Promise<T>): Promise<T> => {
    const answer = known?.answers.get(name);
    if (!answer) throw new StripeReadFirst(eventId, payload, { name, read });
    if ('error' in answer) throw answer.error;
    return answer.value as T;
  };
}
