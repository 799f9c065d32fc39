/** Argo Events v1.9.6 on this machine kind, and the project's targets: docs/design.md "Numbers to reach". */
export const peer = {
  system: 'Argo Events v1.9.6 (webhook → NATS JetStream → sensor → HTTP), 2 cores',
  eventsPerS: { min: 1600, max: 1950 },
  rate1000: { p50Ms: 1.2, p99Ms: 12 },
  cpuMsPerEvent: 0.72,
};
export const targets = { eventsPerS: 5500, p50Ms: 1.2, p99Ms: 12, cpuMsPerEvent: 0.25 };
