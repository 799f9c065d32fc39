import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { cachedBinary, goInstall } from '../../scripts/services/lib/install.ts';
import { serviceDataDir } from '../../scripts/services/lib/paths.ts';
import { httpOk, LOCALHOST } from '../../scripts/services/lib/probe.ts';
import { launch } from '../../scripts/services/lib/proc.ts';
import type { Service } from '../../scripts/services/service.ts';

// This service's ports, in the project's own range (scripts/services/ports.ts says why).
const PORTS = {
  minio: 7351,
  minioConsole: 7352,
  /** Not a server: the tests listen here for MinIO's webhook notifications. */
  minioWebhook: 7390,
} as const;

// MinIO publishes no tagged Go module versions; this is the pseudo-version `@latest` resolved to on the
// Go module proxy (RECIPES.md), pinned so every machine builds the same server.
const MODULE = 'github.com/minio/minio';
const VERSION = 'v0.0.0-20260212201848-7aac2a2c5b7c';
const binary = () => cachedBinary('minio', VERSION);

export const ACCESS_KEY = 'triggerhub';
export const SECRET_KEY = 'triggerhub-test-secret';
/** The webhook notification target, configured at start; the tests listen for it on PORTS.minioWebhook. */
const WEBHOOK_ID = 'TESTHUB';
export const WEBHOOK_TOKEN = 'minio-test-token';
export const WEBHOOK_ARN = `arn:minio:sqs::${WEBHOOK_ID}:webhook`;
const WEBHOOK_ENDPOINT = `http://${LOCALHOST}:${PORTS.minioWebhook}/minio`;

const readyOn = (port: number) => () => httpOk(`http://${LOCALHOST}:${port}/minio/health/ready`);
const ready = readyOn(PORTS.minio);

/**
 * One MinIO server on `port` with its data in `dir` and its webhook target TESTHUB posting to `endpoint`;
 * also used by private instances (scripts/services/instance.ts), whose target points straight at a hub.
 */
export async function startMinioServer(
  id: string,
  port: number,
  consolePort: number,
  dir: string,
  endpoint: string,
): Promise<void> {
  const data = join(dir, 'data');
  // MinIO's own store for notifications the receiver has not taken yet (tests come and go), retried later.
  const queueDir = join(dir, 'webhook-queue');
  mkdirSync(data, { recursive: true });
  mkdirSync(queueDir, { recursive: true });
  const env = {
    ...process.env,
    MINIO_ROOT_USER: ACCESS_KEY,
    MINIO_ROOT_PASSWORD: SECRET_KEY,
    MINIO_UPDATE: 'off',
    // No notification lost across a MinIO restart (the fault suite lost a few without these, docs/minio.md):
    // write each one to the queue_dir before answering the put (by default it waits in memory and a restart
    // drops it), and hold requests at start until the buckets' notification rules are loaded (by default
    // MinIO serves at once and a put in that moment notifies no one).
    MINIO_API_SYNC_EVENTS: 'on',
    MINIO_SYNC_BOOT: 'on',
    [`MINIO_NOTIFY_WEBHOOK_ENABLE_${WEBHOOK_ID}`]: 'on',
    [`MINIO_NOTIFY_WEBHOOK_ENDPOINT_${WEBHOOK_ID}`]: endpoint,
    [`MINIO_NOTIFY_WEBHOOK_AUTH_TOKEN_${WEBHOOK_ID}`]: WEBHOOK_TOKEN,
    [`MINIO_NOTIFY_WEBHOOK_QUEUE_DIR_${WEBHOOK_ID}`]: queueDir,
  };
  // biome-ignore format: flag and value pairs read better side by side
  const args = [
    'server',
    data,
    '--address', `${LOCALHOST}:${port}`,
    '--console-address', `${LOCALHOST}:${consolePort}`,
  ];
  await launch({ id, command: binary(), args, port, env }, readyOn(port), 60_000);
}

export const minio: Service = {
  name: 'minio',
  summary: `MinIO (${VERSION}) with webhook target ${WEBHOOK_ID} → ${WEBHOOK_ENDPOINT}`,
  dependsOn: [],
  procs: [{ id: 'minio', port: PORTS.minio, ports: [PORTS.minio, PORTS.minioConsole] }],
  async install() {
    await goInstall('minio', { name: 'minio', module: MODULE, version: VERSION, binary: 'minio' });
  },
  start: () =>
    startMinioServer('minio', PORTS.minio, PORTS.minioConsole, serviceDataDir('minio'), WEBHOOK_ENDPOINT),
  ready,
  env: () => ({
    TH_MINIO_ENDPOINT: `http://${LOCALHOST}:${PORTS.minio}`,
    TH_MINIO_ACCESS_KEY: ACCESS_KEY,
    TH_MINIO_SECRET_KEY: SECRET_KEY,
    TH_MINIO_WEBHOOK_TOKEN: WEBHOOK_TOKEN,
    TH_MINIO_WEBHOOK_PORT: String(PORTS.minioWebhook),
    TH_MINIO_WEBHOOK_ARN: WEBHOOK_ARN,
  }),
  // A private instance's webhook target posts to `http://127.0.0.1:<third port>/webhooks/minio`: a hub
  // listening there (trigger path `minio`), instead of the stack's relay port.
  instance: {
    freePorts: 3,
    graceMs: 10_000,
    start: (id, [port, consolePort, hubPort], dir) =>
      startMinioServer(id, port!, consolePort!, dir, `http://${LOCALHOST}:${hubPort}/webhooks/minio`),
    url: ([port]) => `http://${LOCALHOST}:${port}`,
  },
};
