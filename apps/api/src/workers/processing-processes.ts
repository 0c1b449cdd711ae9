import { fork, type ChildProcess } from 'node:child_process';
import { setPriority } from 'node:os';
import type { Logger } from 'pino';
import type { MetricObjectWithValues, MetricValue } from 'prom-client';
import { errorMessage } from '../lib/errors.js';

export type ProcessMetrics = MetricObjectWithValues<MetricValue<string>>[];

/** What the API sends a processing process over Node's IPC channel. */
export type ToProcessing = { type: 'process'; eventIds: string[] } | { type: 'metrics'; requestId: number };

/** What a processing process sends back. */
export type FromProcessing =
  | { type: 'heartbeat'; oldest: { name: string; ageMs: number } | null }
  | { type: 'metrics'; requestId: number; metrics: ProcessMetrics }
  | { type: 'order-changed' };

export type ProcessingProcessesOptions = {
  count: number;
  /** The script that starts Settle (`dist/main.js`, or the sources under tsx), and Node's flags for it. */
  entry: string;
  execArgv: string[];
  /** The forked process's environment: the API's, with `SETTLE_ROLE=worker`. */
  env: Record<string, string | undefined>;
  /** CPU priority of the processing processes (0–19): acknowledging Stripe goes first when the cores are busy. */
  nice: number;
  logger: Logger;
};

/**
 * The processing processes an API process forks (`WORKER_PROCESSES`): event processing runs on
 * their own event loops, database pools and cores, at a lower CPU priority, so it neither delays
 * acknowledgements nor waits for them. The API hands each stored event to one of them at once;
 * a message lost with a crashed process costs nothing, the event waits in the inbox for a claim
 * (`WORKER_POLL_MS`, leases as between API instances). A process that exits is started again.
 */
export type ProcessingProcesses = {
  start(): void;
  /** A just-stored event: process it soon (round robin over the live processes). */
  processNow(eventId: string): void;
  /** Why processing is not moving, for readiness; null when every process is alive and moving. */
  problem(stallMs: number): string | null;
  /** A processing process changed an order (the API's host webhook sender can send at once). */
  onOrderChanged(listener: () => void): void;
  /** Every live process's metrics (the API's /metrics adds them to its own). */
  metrics(): Promise<ProcessMetrics[]>;
  /** Graceful stop: each process finishes in-flight work within the deadline and gives back its leases. */
  stop(deadlineMs: number): Promise<void>;
};

type Slot = {
  index: number;
  proc: ChildProcess | null;
  /** Ids waiting for this tick's message. */
  pending: string[];
  lastHeartbeat: number;
  oldest: { name: string; ageMs: number } | null;
  restarts: number;
  startedAt: number;
};

const METRICS_TIMEOUT_MS = 2_000;
/** A message to a process that just died is lost with it; the inbox still holds the events. */
const ignoreSendError = () => {};

export function createProcessingProcesses(opts: ProcessingProcessesOptions, now: () => number = Date.now): ProcessingProcesses {
  const slots: Slot[] = Array.from({ length: opts.count }, (_, index) => ({ index, proc: null, pending: [], lastHeartbeat: 0, oldest: null, restarts: 0, startedAt: 0 }));
  const metricsWaiting = new Map<number, (m: ProcessMetrics) => void>();
  const orderChanged: (() => void)[] = [];
  let requestIds = 0;
  let next = 0;
  let stopping = false;
  let flushScheduled = false;

  const live = () => slots.filter((s) => s.proc?.connected);

  function launch(slot: Slot) {
    const proc = fork(opts.entry, [], { execArgv: opts.execArgv, env: { ...opts.env, SETTLE_ROLE: 'worker' }, stdio: 'inherit' });
    slot.proc = proc;
    slot.startedAt = now();
    slot.lastHeartbeat = now();
    slot.oldest = null;
    try {
      if (proc.pid) setPriority(proc.pid, opts.nice);
    } catch (err) {
      opts.logger.warn({ err: errorMessage(err) }, 'could not lower the processing process priority');
    }
    proc.on('message', (m: FromProcessing) => {
      if (m.type === 'heartbeat') {
        slot.lastHeartbeat = now();
        slot.oldest = m.oldest;
      } else if (m.type === 'metrics') {
        metricsWaiting.get(m.requestId)?.(m.metrics);
      } else if (m.type === 'order-changed') {
        for (const listener of orderChanged) listener();
      }
    });
    proc.on('error', (err) => opts.logger.warn({ process: slot.index, err: errorMessage(err) }, 'processing process IPC error'));
    proc.once('exit', (code, signal) => {
      if (slot.proc === proc) slot.proc = null;
      if (stopping) return;
      // A process that ran a while before dying starts again at once; one that keeps dying backs off.
      slot.restarts = now() - slot.startedAt > 60_000 ? 0 : slot.restarts + 1;
      const delay = Math.min(30_000, slot.restarts === 0 ? 0 : 500 * 2 ** (slot.restarts - 1));
      opts.logger.error({ process: slot.index, code, signal, restartInMs: delay }, 'processing process exited; starting it again');
      setTimeout(() => !stopping && launch(slot), delay).unref();
    });
  }

  function flush() {
    flushScheduled = false;
    for (const slot of slots) {
      if (slot.pending.length === 0) continue;
      const eventIds = slot.pending.splice(0);
      // Not connected: the events stay in the inbox and a claim finds them.
      if (slot.proc?.connected) slot.proc.send({ type: 'process', eventIds } satisfies ToProcessing, ignoreSendError);
    }
  }

  return {
    start() {
      for (const slot of slots) launch(slot);
    },
    onOrderChanged(listener) {
      orderChanged.push(listener);
    },
    processNow(eventId) {
      const up = live();
      if (stopping || up.length === 0) return;
      up[next++ % up.length]!.pending.push(eventId);
      // One message per process per turn of the event loop, however many events arrived in it.
      if (!flushScheduled) {
        flushScheduled = true;
        setImmediate(flush);
      }
    },
    problem(stallMs) {
      for (const slot of slots) {
        if (!slot.proc) return `processing process ${slot.index} is not running`;
        if (now() - slot.lastHeartbeat > stallMs) return `processing process ${slot.index} has not answered for ${Math.round((now() - slot.lastHeartbeat) / 1000)} s`;
        if (slot.oldest && slot.oldest.ageMs > stallMs) return `${slot.oldest.name} running for ${Math.round(slot.oldest.ageMs / 1000)} s in processing process ${slot.index}`;
      }
      return null;
    },
    async metrics() {
      const asks = live().map(
        (slot) =>
          new Promise<ProcessMetrics | null>((resolve) => {
            const requestId = ++requestIds;
            const timer = setTimeout(() => {
              metricsWaiting.delete(requestId);
              resolve(null);
            }, METRICS_TIMEOUT_MS);
            metricsWaiting.set(requestId, (m) => {
              clearTimeout(timer);
              metricsWaiting.delete(requestId);
              resolve(m);
            });
            slot.proc!.send({ type: 'metrics', requestId } satisfies ToProcessing, (err) => err && resolve(null));
          }),
      );
      return (await Promise.all(asks)).filter((m): m is ProcessMetrics => m !== null);
    },
    async stop(deadlineMs) {
      stopping = true;
      flush();
      await Promise.all(
        slots.map(async (slot) => {
          const proc = slot.proc;
          if (!proc || proc.exitCode !== null) return;
          const exited = new Promise((resolve) => proc.once('exit', resolve));
          proc.kill('SIGTERM');
          // The process's own shutdown waits up to the same deadline; past it (and a margin), it is killed.
          const late = setTimeout(() => proc.kill('SIGKILL'), deadlineMs + 5_000);
          await exited;
          clearTimeout(late);
        }),
      );
    },
  };
}
