import type { Worker } from 'bullmq';

/**
 * Closes a worker gracefully: in-flight deliveries finish if they can within the deadline; past it the
 * worker is closed by force and its active jobs return to the queue when their locks lapse.
 */
export async function dispatchShutdown(worker: Worker, deadlineMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), deadlineMs);
  });
  const outcome = await Promise.race([worker.close().then(() => 'closed' as const), deadline]);
  clearTimeout(timer);
  if (outcome === 'late') await worker.close(true);
}
