import pino, { type Logger } from 'pino';

/**
 * Structured logs. Secrets, card data and e-mail addresses never reach them: the known places
 * such values live are redacted, and the code logs ids rather than objects.
 */
export function createLogger(level: string, name = 'settle'): Logger {
  return pino({
    name,
    level,
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers.cookie',
        'req.headers["stripe-signature"]',
        '*.password',
        '*.secret',
        '*.email',
        '*.card',
      ],
      censor: '[redacted]',
    },
  });
}
