/** Stand-ins for Stripe's hosted pages: Checkout (one button per journey, then back to the site), the hosted invoice page and the customer portal. */
import type { ServerResponse } from 'node:http';
import { SimulatorError, type SimulatorCore } from './core.js';
import { applyJourney } from './journey-runner.js';
import { JOURNEYS_BY_SESSION_MODE, type Journey } from './journeys.js';
import { parseForm } from './stripe-api.js';
import { money } from './state.js';
import { payInvoice } from './subscription-recovery.js';

export function checkoutPage(sim: SimulatorCore, method: string, path: string, raw: string, res: ServerResponse): void {
  const id = decodeURIComponent(path.slice('/c/pay/'.length));
  const session = sim.state.checkoutSessions.get(id);
  const html = htmlPage(res, 'Stripe simulator checkout');
  if (!session) return html(404, `<h1>No such Checkout Session</h1><p>${escapeHtml(id)}</p>`);
  if (method === 'POST') {
    const journey = String(parseForm(raw).journey ?? '');
    try {
      const events = applyJourney(sim, journey as Journey, id);
      // Like Stripe, the customer is redirected at once; the webhooks follow on their own.
      sim.deliverInBackground(events);
    } catch (err) {
      return html(err instanceof SimulatorError ? err.status : 500, `<h1>Cannot run ${escapeHtml(journey)}</h1><p>${escapeHtml(String(err instanceof Error ? err.message : err))}</p>`);
    }
    const target = session.status === 'complete' ? session.success_url : session.cancel_url;
    if (typeof target === 'string') {
      res.writeHead(303, { location: target.replaceAll('{CHECKOUT_SESSION_ID}', id) });
      res.end();
      return;
    }
    return html(200, `<h1>${escapeHtml(journey)}</h1><p>Session ${escapeHtml(id)} is now ${escapeHtml(String(session.status))} / ${escapeHtml(String(session.payment_status))}.</p>`);
  }
  const amount = money(session.amount_total as number, session.currency as string);
  const buttons = session.status === 'open'
    ? (session.mode === 'subscription' ? JOURNEYS_BY_SESSION_MODE.subscription : JOURNEYS_BY_SESSION_MODE.payment).map((j) => `<button name="journey" value="${j}" style="margin:.25rem">${j}</button>`).join('')
    : `<p>This session is ${escapeHtml(String(session.status))}.</p>`;
  return html(200, `<h1>Pay ${escapeHtml(amount)}</h1><p>Simulated Stripe Checkout for <code>${escapeHtml(id)}</code>. Choose how the purchase goes:</p>
<form method="post">${buttons}</form>`);
}

/**
 * `/i/:invoiceId`: a stand-in for Stripe's hosted invoice page. GET shows what is owed; POST pays
 * it with a new card, as a customer does there, and the webhooks follow in the background.
 */
export function invoicePage(sim: SimulatorCore, method: string, path: string, res: ServerResponse): void {
  const id = decodeURIComponent(path.slice('/i/'.length));
  const invoice = sim.state.invoices.get(id);
  const html = htmlPage(res, 'Stripe simulator invoice');
  if (!invoice) return html(404, `<h1>No such invoice</h1><p>${escapeHtml(id)}</p>`);
  const label = `${escapeHtml(String(invoice.number ?? id))}: ${escapeHtml(money(Number(invoice.amount_due), String(invoice.currency)))}`;
  if (method === 'POST') {
    try {
      sim.emit(payInvoice(sim, id));
    } catch (err) {
      return html(err instanceof SimulatorError ? err.status : 500, `<h1>Cannot pay ${label}</h1><p>${escapeHtml(String(err instanceof Error ? err.message : err))}</p>`);
    }
    return html(200, `<h1>Paid ${label}</h1><p>Invoice <code>${escapeHtml(id)}</code> is paid. You can close this page.</p>`);
  }
  const action = invoice.status === 'open' ? '<form method="post"><button>Pay</button></form>' : `<p>This invoice is ${escapeHtml(String(invoice.status))}.</p>`;
  return html(200, `<h1>Invoice ${label}</h1><p>Simulated Stripe hosted invoice page for <code>${escapeHtml(id)}</code>.</p>${action}`);
}

/** `GET /p/session/:id`: a stand-in for Stripe's customer portal, with the way back to the site. */
export function portalPage(sim: SimulatorCore, path: string, res: ServerResponse): void {
  const id = decodeURIComponent(path.slice('/p/session/'.length));
  const session = sim.state.portalSessions.get(id);
  const html = htmlPage(res, 'Stripe simulator customer portal');
  if (!session) return html(404, `<h1>No such portal session</h1><p>${escapeHtml(id)}</p>`);
  const subscriptions = [...sim.state.subscriptions.values()].filter((s) => s.customer === session.customer);
  const rows = subscriptions.map((s) => `<li><code>${escapeHtml(s.id)}</code>: ${escapeHtml(String(s.status))}</li>`).join('') || '<li>no subscriptions</li>';
  const back = typeof session.return_url === 'string' ? `<p><a href="${escapeHtml(session.return_url)}">Return to the site</a></p>` : '';
  return html(200, `<h1>Customer portal</h1><p>Simulated portal for <code>${escapeHtml(String(session.customer))}</code>. Plan changes are simulated with journeys (<code>pnpm simulate subscription_upgrade</code>).</p><ul>${rows}</ul>${back}`);
}

function htmlPage(res: ServerResponse, title: string) {
  return (status: number, body: string): void => {
    res.writeHead(status, { 'content-type': 'text/html; charset=utf-8' });
    res.end(`<!doctype html><html><head><meta charset="utf-8"><title>${title}</title></head>
<body style="font-family:system-ui;max-width:40rem;margin:3rem auto">${body}</body></html>`);
  };
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
