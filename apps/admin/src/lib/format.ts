/**
 * How many decimals Stripe's amounts of a currency carry: amounts are integers in the currency's
 * smallest unit, which is not always a hundredth (https://docs.stripe.com/currencies): ¥500 is
 * 500, 5.000 KWD is 5000. ISK and UGX are zero-decimal, but Stripe takes them with two decimals
 * for backwards compatibility (5 ISK is 500), so they stay at 2 here.
 */
const ZERO_DECIMAL = new Set(['bif', 'clp', 'djf', 'gnf', 'jpy', 'kmf', 'krw', 'mga', 'pyg', 'rwf', 'vnd', 'vuv', 'xaf', 'xof', 'xpf']);
const THREE_DECIMAL = new Set(['bhd', 'jod', 'kwd', 'omr', 'tnd']);

export function minorDigits(currency: string): number {
  const c = currency.toLowerCase();
  return ZERO_DECIMAL.has(c) ? 0 : THREE_DECIMAL.has(c) ? 3 : 2;
}

/** A Stripe amount (smallest unit) as a decimal number of the currency: 995 usd → 9.95, 500 jpy → 500. */
export function fromMinor(amount: number, currency: string): number {
  return amount / 10 ** minorDigits(currency);
}

/** What an operator typed ("9.95", "500") as a Stripe amount; NaN when it is not a number or has more decimals than the currency. */
export function toMinor(typed: string, currency: string): number {
  const digits = minorDigits(currency);
  const text = typed.trim();
  if (!/^\d+(\.\d*)?$|^\.\d+$/.test(text)) return Number.NaN;
  const [, decimals = ''] = text.split('.');
  if (decimals.replace(/0+$/, '').length > digits) return Number.NaN;
  return Math.round(Number(text) * 10 ** digits);
}

export function money(amount: number, currency: string): string {
  const digits = minorDigits(currency);
  try {
    return new Intl.NumberFormat('en', { style: 'currency', currency: currency.toUpperCase() }).format(fromMinor(amount, currency));
  } catch {
    return `${fromMinor(amount, currency).toFixed(digits)} ${currency.toUpperCase()}`;
  }
}

// One date format everywhere, with the time zone named: an operator comparing with Stripe's
// dashboard (or a colleague elsewhere) must know which clock a time is on.
const absolute = new Intl.DateTimeFormat('en-GB', { dateStyle: 'medium', timeStyle: 'long' });
const rel = new Intl.RelativeTimeFormat('en', { numeric: 'auto' });

export function dateTime(iso: string | null | undefined): string {
  return iso ? absolute.format(new Date(iso)) : '—';
}

/** "3 min ago", "in 2 h": for scanning; the exact time goes in a title. */
export function ago(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return '—';
  const seconds = Math.round((new Date(iso).getTime() - now) / 1000);
  const abs = Math.abs(seconds);
  if (abs < 60) return rel.format(seconds, 'second');
  if (abs < 3600) return rel.format(Math.round(seconds / 60), 'minute');
  if (abs < 86_400) return rel.format(Math.round(seconds / 3600), 'hour');
  return rel.format(Math.round(seconds / 86_400), 'day');
}

export function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${(ms / 60_000).toFixed(1)} min`;
}

export function percent(ratio: number, digits = 1): string {
  return `${(ratio * 100).toFixed(digits)} %`;
}

export const count = (n: number) => new Intl.NumberFormat('en').format(n);

/** "1 order", "3 orders". */
export const plural = (n: number, one: string, many = `${one}s`) => `${count(n)} ${n === 1 ? one : many}`;

/** How long something has waited, in the largest sensible units: "3 d 4 h", "2 h 5 min", "40 s". */
export function waited(seconds: number): string {
  if (seconds < 60) return `${Math.max(0, Math.round(seconds))} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h ${minutes % 60} min`;
  return `${Math.floor(hours / 24)} d ${hours % 24} h`;
}

/** `datetime-local` input value ↔ ISO-8601 (the input speaks local time). */
export function toLocalInput(d: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}
export function fromLocalInput(value: string): string | null {
  if (!value) return null;
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}
