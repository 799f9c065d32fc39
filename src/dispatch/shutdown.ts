import type { Worker } from 'bullmq';
import { withTimeout } from '../retry/timeout.ts';

/**
 * Closes a worker gracefully: in-flight deliveries may finish within the deadline. Past it we stop waiting
 * (BullMQ cannot turn a graceful close into a forced one); jobs still active return to the queue when their
 * locks lapse, so nothing is lost, at worst delivered again.
 */
export async function dispatchShutdown(worker: Worker, deadlineMs: number): Promise<'closed' | 'deadline'> {
  return withTimeout(worker.close(), deadlineMs, 'deadline').then(
    () => 'closed' as const,
    () => 'deadline' as const,
  );
}
