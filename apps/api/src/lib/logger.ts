import pino, { type Logger } from 'pino';

const EMAIL = /[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}/g;
const URL_PASSWORD = /(\b[a-z][a-z0-9+.-]*:\/\/[^:/?#\s@]*:)[^@/?#\s]+@/gi;
const QUERY_PASSWORD = /([?&;\s](?:password|passwd|pass|secret|sslpassword)=)[^&\s'"]+/gi;

/** A log string with e-mail addresses and connection-string passwords taken out. */
export function scrub(text: string): string {
  return text.replace(EMAIL, '[email]').replace(URL_PASSWORD, '$1***@').replace(QUERY_PASSWORD, '$1***');
}

/** Strings anywhere in a log line's fields (a few levels deep; error messages included). */
function scrubFields(value: unknown, depth: number): unknown {
  if (typeof value === 'string') return scrub(value);
  if (depth > 3 || value === null || typeof value !== 'object') return value;
  if (value instanceof Error) return { type: value.name, message: scrub(value.message), stack: value.stack ? scrub(value.stack) : undefined };
  if (Array.isArray(value)) return value.map((v) => scrubFields(v, depth + 1));
  // Only plain objects: requests, replies and other instances keep their serializers.
  if (Object.getPrototypeOf(value) !== Object.prototype) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = scrubFields(v, depth + 1);
  return out;
}

/**
 * Structured logs. Secrets, card data, e-mail addresses and database passwords never reach them:
 * the known places such values live are redacted, every string is scrubbed of addresses and
 * connection-string passwords (they also hide inside error messages), and the code logs ids
 * rather than objects.
 */
export function createLogger(level: string, name = 'settle', destination?: pino.DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    name,
    level,
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers.cookie',
        'req.headers["stripe-signature"]',
        'password',
        'email',
        '*.password',
        '*.secret',
        '*.email',
        '*.card',
      ],
      censor: '[redacted]',
    },
    hooks: {
      logMethod(args, method) {
        method.apply(this, args.map((a) => scrubFields(a, 0)) as Parameters<typeof method>);
      },
    },
  };
  return destination ? pino(options, destination) : pino(options);
}
