import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { HostEventBody } from '@settle/db';
import { Webhook } from 'standardwebhooks';

/** A Standard Webhooks secret as Settle's HOST_WEBHOOK_SECRET takes it. */
export const newHostWebhookSecret = () => `whsec_${randomBytes(32).toString('base64')}`;

export type Received = { webhookId: string; body: HostEventBody; status: number };

/**
 * A host app's webhook endpoint over real HTTP: verifies each request with the standardwebhooks
 * package, and answers as told (`ok`, `fail` with 500, or `hang` without ever answering).
 */
export async function startHostReceiver(secret: string) {
  const verifier = new Webhook(secret);
  const requests: Received[] = [];
  const badSignatures: string[] = [];
  let mode: 'ok' | 'fail' | 'hang' = 'ok';
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      let body: HostEventBody;
      try {
        body = verifier.verify(raw, req.headers as Record<string, string>) as HostEventBody;
      } catch (err) {
        badSignatures.push(String(err));
        res.writeHead(400).end();
        return;
      }
      if (mode === 'hang') return;
      const status = mode === 'ok' ? 204 : 500;
      requests.push({ webhookId: String(req.headers['webhook-id']), body, status });
      res.writeHead(status).end(status === 500 ? 'host is down' : undefined);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/settle/webhooks`,
    requests,
    badSignatures,
    set mode(m: 'ok' | 'fail' | 'hang') {
      mode = m;
    },
    accepted: (userId: string) => requests.filter((r) => r.status < 300 && r.body.data.userId === userId),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export type HostReceiver = Awaited<ReturnType<typeof startHostReceiver>>;
