// A trigger's dispatcher that exists only while its queue has work: the Worker is created when the waker sees
// the queue marked, and closed again after `idleMs` without a delivery once the queue holds nothing (waiting,
// delayed retries, prioritized or active). A hub of 1,000 quiet triggers then holds a handful of Workers.

import type { Worker } from 'bullmq';
import { dispatchShutdown } from './shutdown.ts';
import type { DispatchWaker } from './waker.ts';

/** What a running trigger holds of its dispatcher, lazy or not. */
export interface Dispatch {
  /** In-flight deliveries may finish within the deadline; the rest return to the queue. */
  close(deadlineMs: number): Promise<void>;
}

/** One Worker for the trigger's whole life. */
export function eagerDispatch(worker: Worker): Dispatch {
  return { close: async (deadlineMs) => void (await dispatchShutdown(worker, deadlineMs)) };
}

export interface LazyDispatchOptions {
  queue: string;
  waker: DispatchWaker;
  createWorker: () => Worker;
  /** Jobs in the queue that need a Worker: waiting, delayed, prioritized and active. */
  pendingJobs: () => Promise<number>;
  idleMs: number;
}

export class LazyDispatch implements Dispatch {
  private readonly options: LazyDispatchOptions;
  private worker: Worker | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private lastActivity = 0;
  private checking: Promise<void> | undefined;
  private unwatch: (() => void) | undefined;
  private closed = false;

  constructor(options: LazyDispatchOptions) {
    this.options = options;
    this.sleep();
  }

  async close(deadlineMs: number): Promise<void> {
    this.closed = true;
    this.unwatch?.();
    clearInterval(this.idleTimer);
    await this.checking;
    if (this.worker) await dispatchShutdown(this.worker, deadlineMs);
  }

  private readonly wake = (): void => {
    if (this.closed || this.worker) return;
    this.unwatch = undefined;
    const worker = this.options.createWorker();
    this.worker = worker;
    this.lastActivity = Date.now();
    const touch = () => {
      this.lastActivity = Date.now();
    };
    worker.on('active', touch);
    worker.on('completed', touch);
    worker.on('failed', touch);
    this.idleTimer = setInterval(
      () => {
        this.checking ??= this.closeIfIdle().finally(() => {
          this.checking = undefined;
        });
      },
      Math.max(100, this.options.idleMs / 2),
    );
    this.idleTimer.unref();
  };

  private sleep(): void {
    if (!this.closed) this.unwatch = this.options.waker.watch(this.options.queue, this.wake);
  }

  private async closeIfIdle(): Promise<void> {
    const worker = this.worker;
    if (!worker || this.closed || Date.now() - this.lastActivity < this.options.idleMs) return;
    if ((await this.options.pendingJobs().catch(() => 1)) > 0) {
      this.lastActivity = Date.now();
      return;
    }
    clearInterval(this.idleTimer);
    this.worker = undefined;
    await worker.close();
    // A job added while the Worker was closing may have had its marker taken by that Worker: `watch` looks
    // at the queue itself before it waits for a marker.
    this.sleep();
  }
}
