import { queryOnce, type DatabaseHandle } from '@settle/db';
import type { PoolClient } from 'pg';
import type { Logger } from 'pino';
import { errorMessage } from './errors.js';

const CHANNEL = 'settle_order_changed';

/**
 * "This order changed", across API instances: PostgreSQL `LISTEN/NOTIFY` when on PostgreSQL (a
 * change made by any instance reaches subscribers on every instance), in-process on PGlite (one
 * process owns its data folder).
 */
export type OrderChangeBus = {
  publish(orderId: string): void;
  subscribe(orderId: string, listener: () => void): () => void;
  start(): Promise<void>;
  stop(): Promise<void>;
};

export function createOrderChangeBus(database: DatabaseHandle, logger: Logger): OrderChangeBus {
  const listeners = new Map<string, Set<() => void>>();
  const deliver = (orderId: string) => {
    for (const l of listeners.get(orderId) ?? []) l();
  };
  const pool = database.pool;
  let stopped = false;
  let client: PoolClient | null = null;
  let retry: NodeJS.Timeout | null = null;
  // A LISTEN connection only receives: after a silent partition it would wait forever. A periodic
  // query makes silence visible (the pool's query timeout ends the connection; 'error' re-listens).
  const heartbeat = pool ? setInterval(() => void client?.query('select 1').catch(() => {}), 10_000).unref() : null;
  const listenAgain = () => {
    if (stopped || retry) return;
    retry = setTimeout(() => {
      retry = null;
      void listen();
    }, 1_000);
  };

  async function listen(): Promise<void> {
    if (!pool || stopped) return;
    try {
      const c = await pool.connect();
      c.on('notification', (msg) => {
        if (msg.channel === CHANNEL && msg.payload) deliver(msg.payload);
      });
      c.on('error', () => {
        // The connection broke: listen again on a fresh one (changes in between are re-read by
        // subscribers, which always fetch the current order). Only the current client is given
        // back, once: `stop()` or an earlier error may have released it already.
        if (client !== c) return;
        client = null;
        c.release(true);
        listenAgain();
      });
      client = c;
      try {
        await c.query(`LISTEN ${CHANNEL}`);
      } catch (err) {
        if (client === c) {
          client = null;
          c.release(true);
        }
        throw err;
      }
    } catch (err) {
      logger.warn({ err: errorMessage(err) }, 'could not LISTEN for order changes; retrying');
      listenAgain();
    }
  }

  return {
    publish(orderId) {
      if (!pool) return deliver(orderId);
      queryOnce(pool, { text: 'select pg_notify($1, $2)', values: [CHANNEL, orderId] }).catch((err) => {
        logger.warn({ orderId, err: errorMessage(err) }, 'could not NOTIFY an order change');
        deliver(orderId);
      });
    },
    subscribe(orderId, listener) {
      const set = listeners.get(orderId) ?? new Set();
      set.add(listener);
      listeners.set(orderId, set);
      return () => {
        set.delete(listener);
        if (set.size === 0) listeners.delete(orderId);
      };
    },
    start: listen,
    async stop() {
      stopped = true;
      if (retry) clearTimeout(retry);
      if (heartbeat) clearInterval(heartbeat);
      if (client) {
        // Discarded rather than UNLISTENed and reused: ending the session ends the LISTEN, and
        // no query waits on a database that may not answer (shutdown keeps to its deadline).
        const c = client;
        client = null;
        c.release(true);
      }
    },
  };
}
