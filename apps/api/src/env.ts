import { z } from 'zod';

const csv = z
  .string()
  .transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean));
const int = (def: number) => z.coerce.number().int().nonnegative().default(def);

/** Every setting Settle reads. `process.env` is read here and nowhere else. */
export const EnvSchema = z
  .object({
    NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
    PORT: z.coerce.number().int().min(0).max(65535).default(3000),
    HOST: z.string().default('127.0.0.1'),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    DATABASE_URL: z.string().url().optional(),
    DATABASE_POOL_MAX: int(10),
    PGLITE_DIR: z.string().default('./.data/pglite'),
    STRIPE_SECRET_KEY: z.string().min(1).optional(),
    STRIPE_WEBHOOK_SECRET: csv.optional(),
    STRIPE_API_BASE: z.string().url().optional(),
    STRIPE_WEBHOOK_TOLERANCE_S: int(300),
    PUBLIC_URL: z.string().url().default('http://localhost:3000'),
    CHECKOUT_SUCCESS_URL: z.string().url().optional(),
    CHECKOUT_CANCEL_URL: z.string().url().optional(),
    USER_JWT_SECRET: z.string().min(16).optional(),
    PRODUCTS_FILE: z.string().optional(),
    HANDLER_MODE: z.enum(['legacy', 'new']).default('new'),
    WORKER_CONCURRENCY: z.coerce.number().int().min(0).max(64).default(4),
    WORKER_POLL_MS: z.coerce.number().int().min(10).default(500),
    WORKER_BATCH: z.coerce.number().int().min(1).max(1000).default(50),
    WORKER_LEASE_MS: z.coerce.number().int().min(100).default(30_000),
    RETRY_BASE_MS: z.coerce.number().int().min(1).default(1_000),
    RETRY_MAX_MS: z.coerce.number().int().min(1).default(3_600_000),
    RETRY_MAX_ATTEMPTS: z.coerce.number().int().min(1).default(12),
    UNMATCHED_MAX_ATTEMPTS: z.coerce.number().int().min(1).default(8),
    SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(0).default(10_000),
    ADMIN_EMAIL: z.string().email().optional(),
    ADMIN_PASSWORD: z.string().min(8).optional(),
  })
  .superRefine((env, ctx) => {
    if (env.NODE_ENV !== 'production') return;
    for (const key of ['STRIPE_WEBHOOK_SECRET', 'USER_JWT_SECRET', 'STRIPE_SECRET_KEY'] as const) {
      if (!env[key]) ctx.addIssue({ code: 'custom', path: [key], message: `${key} is required in production` });
    }
  });

export type Env = z.infer<typeof EnvSchema>;

/** Parse the environment once; on bad input, fail with every problem listed. */
export function parseEnv(source: Record<string, string | undefined>): Env {
  const cleaned = Object.fromEntries(Object.entries(source).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = EnvSchema.safeParse(cleaned);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new Error(`Invalid configuration:\n${lines.join('\n')}`);
  }
  return parsed.data;
}
