import { createHostApp } from './host-app.js';

/** Run the example next to Settle: `SETTLE_URL=http://127.0.0.1:3000 HOST_WEBHOOK_SECRET=whsec_… USER_JWT_SECRET=… pnpm start`. */
function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required (see examples/host-app/README.md)`);
  return value;
}

const app = await createHostApp({
  settleUrl: process.env.SETTLE_URL ?? 'http://127.0.0.1:3000',
  webhookSecret: required('HOST_WEBHOOK_SECRET'),
  userJwtSecret: required('USER_JWT_SECRET'),
  ...(process.env.HOST_APP_DATA_DIR ? { dataDir: process.env.HOST_APP_DATA_DIR } : {}),
});
const url = await app.listen(Number(process.env.PORT ?? 4700));
console.log(`host app listening on ${url}; point Settle's HOST_WEBHOOK_URL at ${url}/webhooks/settle`);
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => void app.close().then(() => process.exit(0)));
