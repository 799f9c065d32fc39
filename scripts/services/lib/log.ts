const started = Date.now();

export function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

/**
 * Progress goes to stderr, one plain line per step, so that CI logs show what a long cold start is doing
 * and stdout stays clean for `env` (which is meant to be eval'ed).
 */
export function say(scope: string, message: string): void {
  const t = ((Date.now() - started) / 1000).toFixed(1).padStart(6);
  process.stderr.write(`[services ${t}s] ${scope}: ${message}\n`);
}
