/**
 * Stripe's API conventions as the simulator answers them: errors in Stripe's shape, form
 * parameters in bracket notation with Stripe's validation messages, and the request/reply types
 * every endpoint handler shares.
 */
import qs from 'qs';

/** An error answered in Stripe's shape: `{ error: { type, code, message, param } }`. */
export class StripeApiError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
    readonly code?: string,
    readonly param?: string,
  ) {
    super(message);
  }
}

export function invalid(message: string, o: { code?: string; param?: string; status?: number } = {}): StripeApiError {
  return new StripeApiError(o.status ?? 400, 'invalid_request_error', message, o.code, o.param);
}

/** 404 for the resource in the URL; 400 for a missing object referenced by a parameter. */
export function noSuch(kind: string, id: string, param = 'id'): StripeApiError {
  return invalid(`No such ${kind}: '${id}'`, { code: 'resource_missing', param, status: param === 'id' ? 404 : 400 });
}

export type Params = Record<string, unknown>;

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function allowOnly(p: Params, allowed: readonly string[]): void {
  for (const key of Object.keys(p)) {
    if (!allowed.includes(key)) throw invalid(`Received unknown parameter: ${key}`, { code: 'parameter_unknown', param: key });
  }
}

export function required<T>(v: T | undefined, param: string): T {
  if (v === undefined) throw invalid(`Missing required param: ${param}.`, { code: 'parameter_missing', param });
  return v;
}

/** A string parameter; Stripe reads an empty string as "not set". */
export function optString(v: unknown, param: string): string | undefined {
  if (v === undefined || v === '') return undefined;
  if (typeof v !== 'string') throw invalid(`Invalid string: ${JSON.stringify(v)}`, { param });
  return v;
}

export function optInt(v: unknown, param: string): number | undefined {
  const s = optString(v, param);
  if (s === undefined) return undefined;
  if (!/^-?\d+$/.test(s) || !Number.isSafeInteger(Number(s))) {
    throw invalid(`Invalid integer: ${s}`, { code: 'parameter_invalid_integer', param });
  }
  return Number(s);
}

export function optBool(v: unknown, param: string): boolean | undefined {
  const s = optString(v, param);
  if (s === undefined) return undefined;
  if (s !== 'true' && s !== 'false') throw invalid(`Invalid boolean: ${s}`, { param });
  return s === 'true';
}

export function optEnum<T extends string>(v: unknown, param: string, values: readonly T[]): T | undefined {
  const s = optString(v, param);
  if (s === undefined) return undefined;
  if (!(values as readonly string[]).includes(s)) throw invalid(`Invalid ${param}: must be one of ${values.join(', ')}`, { param });
  return s as T;
}

export function optHash(v: unknown, param: string): Record<string, unknown> | undefined {
  if (v === undefined || v === '') return undefined;
  if (!isRecord(v)) throw invalid('Invalid hash', { param });
  return v;
}

/** An array parameter, sent as `a[0]=x&a[1]=y` (or `a[]=x`). */
export function optList(v: unknown, param: string): unknown[] | undefined {
  if (v === undefined || v === '') return undefined;
  if (Array.isArray(v)) return v;
  if (isRecord(v) && Object.keys(v).every((k) => /^\d+$/.test(k))) {
    return Object.keys(v).sort((a, b) => Number(a) - Number(b)).map((k) => v[k]);
  }
  throw invalid('Invalid array', { param });
}

export function currencyParam(v: unknown, param: string): string {
  const c = required(optString(v, param), param).toLowerCase();
  if (!/^[a-z]{3}$/.test(c)) throw invalid(`Invalid currency: ${c}.`, { param });
  return c;
}

export function metadataParam(v: unknown, param = 'metadata'): Record<string, string> {
  const hash = optHash(v, param);
  const out: Record<string, string> = {};
  if (!hash) return out;
  for (const [key, value] of Object.entries(hash)) {
    if (value === '') continue;
    if (typeof value !== 'string') throw invalid(`Invalid value for ${param}[${key}]: metadata values must be strings.`, { param: `${param}[${key}]` });
    if (key.length > 40) throw invalid(`Metadata keys can have up to 40 characters, but you passed in a key that is ${key.length} characters long.`, { param: `${param}[${key}]` });
    if (value.length > 500) throw invalid(`Metadata values can have up to 500 characters, but you passed in a value that is ${value.length} characters long.`, { param: `${param}[${key}]` });
    out[key] = value;
  }
  if (Object.keys(out).length > 50) throw invalid('You can have up to 50 keys in metadata.', { param });
  return out;
}

export function urlParam(v: unknown, param: string): string | undefined {
  const s = optString(v, param);
  if (s === undefined) return undefined;
  if (!/^https?:\/\/[^\s]+$/i.test(s)) throw invalid('Not a valid URL', { code: 'url_invalid', param });
  return s;
}

export function parseForm(raw: string): Params {
  return qs.parse(raw, { depth: 20, arrayLimit: 1000, parameterLimit: 10_000 }) as Params;
}

/** JSON with sorted keys, to compare the parameters of two requests. */
export function stableStringify(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableStringify).join(',')}]`;
  if (isRecord(v)) {
    return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${stableStringify(v[k])}`).join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

export type RequestContext = {
  method: string;
  path: string;
  params: Params;
  requestId: string;
  idempotencyKey: string | null;
};

export type Reply = { status: number; body: unknown };

export type Route = { method: 'GET' | 'POST'; pattern: RegExp; handler: (ctx: RequestContext, id: string) => Reply };
