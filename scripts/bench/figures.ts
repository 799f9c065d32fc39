// What the bench measures: one run's figures, and one system's over its runs.

export interface RunFigures {
  eventsPerS: number | null;
  p50Ms: number | null;
  p90Ms: number | null;
  p99Ms: number | null;
  maxMs: number | null;
  webhookP50Ms: number;
  webhookP99Ms: number;
  cpuMsPerEvent: number;
  redisCpuMsPerEvent: number | null;
  /** Commands Redis ran, and socket reads it made, per event (the whole server: other clients count too). */
  redisCommandsPerEvent: number;
  redisReadsPerEvent: number;
  rssMiB: number;
  lost: number;
  duplicates: number;
  notAccepted: number;
  timedOut: boolean;
}

export interface SystemFigures {
  saturated: RunFigures;
  rate?: RunFigures;
  peakRssMiB: number;
  /** RSS once ready, before any load. */
  idleRssMiB: number;
  startupMs: number;
}
