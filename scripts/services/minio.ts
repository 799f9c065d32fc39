import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { cachedBinary, goInstall } from './lib/install.ts';
import { serviceDataDir } from './lib/paths.ts';
import { httpOk, LOCALHOST } from './lib/probe.ts';
import { launch } from './lib/proc.ts';
import { PORTS } from './ports.ts';
import type { Service } from './service.ts';

// MinIO publishes no tagged Go module versions; this is the pseudo-version `@latest` resolved to on the
// Go module proxy (RECIPES.md), pinned so every machine builds the same server.
const MODULE = 'github.com/minio/minio';
const VERSION = 'v0.0.0-20260212201848-7aac2a2c5b7c';
const binary = () => cachedBinary('minio', VERSION);

const ACCESS_KEY = 'triggerhub';
const SECRET_KEY = 'triggerhub-test-secret';
/** The webhook notification target, configured at start; the tests listen for it on PORTS.minioWebhook. */
const WEBHOOK_ID = 'TESTHUB';
const WEBHOOK_TOKEN = 'minio-test-token';
const WEBHOOK_ENDPOINT = `http://${LOCALHOST}:${PORTS.minioWebhook}/minio`;

const ready = () => httpOk(`http://${LOCALHOST}:${PORTS.minio}/minio/health/ready`);

export const minio: Service = {
  name: 'minio',
  summary: `MinIO (${VERSION}) with webhook target ${WEBHOOK_ID} → ${WEBHOOK_ENDPOINT}`,
  dependsOn: [],
  procs: [{ id: 'minio', port: PORTS.minio, ports: [PORTS.minio, PORTS.minioConsole] }],
  async install() {
    await goInstall('minio', { name: 'minio', module: MODULE, version: VERSION, binary: 'minio' });
  },
  async start() {
    const dir = serviceDataDir('minio');
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
      [`MINIO_NOTIFY_WEBHOOK_ENABLE_${WEBHOOK_ID}`]: 'on',
      [`MINIO_NOTIFY_WEBHOOK_ENDPOINT_${WEBHOOK_ID}`]: WEBHOOK_ENDPOINT,
      [`MINIO_NOTIFY_WEBHOOK_AUTH_TOKEN_${WEBHOOK_ID}`]: WEBHOOK_TOKEN,
      [`MINIO_NOTIFY_WEBHOOK_QUEUE_DIR_${WEBHOOK_ID}`]: queueDir,
    };
    // biome-ignore format: flag and value pairs read better side by side
    const args = [
      'server',
      data,
      '--address', `${LOCALHOST}:${PORTS.minio}`,
      '--console-address', `${LOCALHOST}:${PORTS.minioConsole}`,
    ];
    await launch({ id: 'minio', command: binary(), args, port: PORTS.minio, env }, ready, 60_000);
  },
  ready,
  env: () => ({
    TH_MINIO_ENDPOINT: `http://${LOCALHOST}:${PORTS.minio}`,
    TH_MINIO_ACCESS_KEY: ACCESS_KEY,
    TH_MINIO_SECRET_KEY: SECRET_KEY,
    TH_MINIO_WEBHOOK_TOKEN: WEBHOOK_TOKEN,
    TH_MINIO_WEBHOOK_PORT: String(PORTS.minioWebhook),
    TH_MINIO_WEBHOOK_ARN: `arn:minio:sqs::${WEBHOOK_ID}:webhook`,
  }),
};
