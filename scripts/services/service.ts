/** One server process of a service, with the pid file id it is recorded under. */
export interface ProcDef {
  id: string;
  /** The port that tells whether it is up. */
  port: number;
  /** Every port it listens on (checked to be free before a start). */
  ports: number[];
}

/**
 * One service of the stack. Every module in this folder exports one of these, and the table in
 * registry.ts lists them; nothing else needs to change to add a service.
 */
export interface Service {
  name: string;
  summary: string;
  /** Services that must be up before this one starts. */
  dependsOn: string[];
  procs: ProcDef[];
  /** Idempotent and cached: a no-op (milliseconds) when everything is already installed. */
  install(): Promise<void>;
  /** Spawns the processes (none of which is running) and resolves once the service answers. */
  start(): Promise<void>;
  /** A quick check that the running service answers. */
  ready(): Promise<boolean>;
  /** Connection settings for clients, as TH_* environment variables. */
  env(): Record<string, string>;
  /** How long a process gets after SIGTERM before SIGKILL. */
  stopGraceMs?: number;
}
