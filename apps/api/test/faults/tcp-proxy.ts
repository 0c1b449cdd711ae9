import { connect, createServer, type Server, type Socket } from 'node:net';

export type ProxyMode = 'forward' | 'blackhole' | 'reset';

/**
 * A TCP proxy to PostgreSQL with the faults a network can have:
 * - `blackhole`: a silent partition. Nothing is forwarded either way and nothing is closed; new
 *   connections are accepted and then never answered. Connections caught in it stay silent for
 *   good (as when a NAT or firewall forgot them), so only fresh connections work after `heal`.
 * - `reset`: every connection is closed at once and new ones are refused.
 */
export function tcpProxy(target: { host: string; port: number }) {
  type Pair = { client: Socket; upstream: Socket | null; dead: boolean };
  const pairs = new Set<Pair>();
  let mode: ProxyMode = 'forward';
  const server: Server = createServer((client) => {
    client.on('error', () => {});
    if (mode === 'reset') return client.destroy();
    const pair: Pair = { client, upstream: null, dead: mode === 'blackhole' };
    pairs.add(pair);
    client.on('close', () => {
      pair.upstream?.destroy();
      pairs.delete(pair);
    });
    if (pair.dead) return; // accepted, never answered
    const upstream = connect(target.port, target.host);
    pair.upstream = upstream;
    upstream.on('error', () => {});
    upstream.on('close', () => {
      if (!pair.dead) client.destroy();
    });
    client.on('data', (d) => {
      if (!pair.dead) upstream.write(d);
    });
    upstream.on('data', (d) => {
      if (!pair.dead) client.write(d);
    });
  });
  return {
    listen: (port: number) => new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve)),
    set(next: ProxyMode) {
      mode = next;
      for (const p of pairs) {
        if (next === 'blackhole') p.dead = true;
        if (next === 'reset') {
          p.client.destroy();
          p.upstream?.destroy();
        }
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const p of pairs) {
          p.client.destroy();
          p.upstream?.destroy();
        }
        server.close(() => resolve());
      }),
  };
}
