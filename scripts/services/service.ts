/** One server process of a service, with the pid file id it is recorded under. */
export interface ProcDef {
  id: string;
  /** The port that tells whether it is up. */
  port: number;
  /** Every port it listens on (checked to be free before a start). */
  ports: number[];
}

/**
 * How to run a private instance of a service (instance.ts: tests that stop, kill and restart servers): the
 * same start and readiness code as the stack's, on ports and in a folder of the caller's.
 */
export interface InstanceRecipe {
  /** How many free ports it takes, the client port first (then monitoring, controller, console, peer ...). */
  freePorts: number;
  /** The kind of another private instance it stores in (kube-apiserver: etcd), whose client port it gets last. */
  storesIn?: string;
  /** How long a process gets after SIGTERM before SIGKILL. */
  graceMs: number;
  /** What to install first (default: the service's `install`); `prefix` names the instance's logs. */
  install?(prefix: string): Promise<void>;
  /** Spawns it (it is not running) on `ports`, with its data in `dir`; resolves once it answers. */
  start(id: string, ports: number[], dir: string): Promise<void>;
  /** How clients reach it (a URL, host:port, or kube-apiserver's kubeconfig path). */
  url(ports: number[], dir: string): string;
}

/**
 * One service of the stack. Each module exports one of these (in this folder, or a source's own service in
 * sensors/<kind>/service.ts), and the table in registry.ts lists them, one line each; nothing else needs to
 * change to add a service.
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
  /** Set when tests may start private instances of it (instance.ts). */
  instance?: InstanceRecipe;
}
