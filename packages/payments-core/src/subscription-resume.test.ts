import { describe, expect, it } from 'vitest';
import { STRIPE_SUBSCRIPTION_STATUSES, SUBSCRIPTION_STATUSES } from './subscription-state.js';
import { isResumable, resumePathFor, resumeStepOf, type LatestInvoiceReading } from './subscription-resume.js';

const invoice = (status: string | null, url: string | null = `https://invoice.stripe.com/i/in_1`): LatestInvoiceReading => ({
  id: 'in_1', status, hostedInvoiceUrl: url, amountDue: 999, currency: 'usd',
});

describe('resumePathFor: what billing.resume does in each of Settle\'s statuses', () => {
  it.each(SUBSCRIPTION_STATUSES.map((s) => [s]))('%s', (status) => {
    const expected = { past_due: 'pay_latest_invoice', unpaid: 'pay_latest_invoice', paused: 'resume' }[status as string];
    const r = resumePathFor(status);
    if (expected) expect(r).toEqual({ ok: true, path: expected });
    else expect(r).toMatchObject({ ok: false, reason: expect.stringMatching(/\w/) });
    expect(isResumable(status)).toBe(expected !== undefined);
  });

  it('names the way on for the statuses it refuses', () => {
    expect(resumePathFor('canceled')).toMatchObject({ reason: expect.stringContaining('checkout.create') });
    expect(resumePathFor('cancel_at_period_end')).toMatchObject({ reason: expect.stringContaining('billing.portal') });
    expect(isResumable('no_such_status')).toBe(false);
  });
});

describe('resumeStepOf: the next step from the subscription as Stripe has it now', () => {
  const stripeStatuses = [...STRIPE_SUBSCRIPTION_STATUSES];
  const invoices = [null, invoice('open'), invoice('open', null), invoice('paid'), invoice('void'), invoice('draft')];
  // Every (Stripe status, latest invoice) pair has one answer.
  it.each(stripeStatuses.flatMap((status) => invoices.map((inv) => [status, inv?.status ?? 'none', inv?.hostedInvoiceUrl ? 'url' : 'no url', inv] as const)))(
    '%s, latest invoice %s (%s)',
    (status, _label, _url, latest) => {
      const step = resumeStepOf({ status, latestInvoice: latest });
      const payable = latest?.status === 'open' && latest.hostedInvoiceUrl !== null;
      if (status === 'paused') expect(step.kind).toBe(payable ? 'pay' : 'resume');
      else if (status === 'unpaid' || status === 'past_due') expect(step.kind).toBe(payable ? 'pay' : 'refused');
      else if (status === 'active' || status === 'trialing') expect(step).toEqual({ kind: 'settled', status });
      else expect(step.kind).toBe('refused');
      if (step.kind === 'pay') expect(step.invoice).toEqual(latest);
    },
  );

  it('explains a refusal with the invoice\'s state', () => {
    expect(resumeStepOf({ status: 'unpaid', latestInvoice: invoice('draft') })).toEqual({
      kind: 'refused', reason: expect.stringContaining('in_1 is draft'),
    });
    expect(resumeStepOf({ status: 'something_new', latestInvoice: null })).toMatchObject({ kind: 'refused', reason: expect.stringContaining('something_new') });
  });
});
