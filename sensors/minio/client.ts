// A MinIO client from a trigger's connection settings (presign, backfill). Signing is local: the region is
// configured, so the client makes no bucket-location lookup request.

import { Client } from 'minio';
import { resolveSecret, type SecretRef } from '../../src/trigger/secret-ref.ts';

export interface MinioConnection {
  endpoint: string;
  region: string;
  accessKey: SecretRef;
  secretKey: SecretRef;
}

export function clientFor(connection: MinioConnection): Client {
  const endpoint = new URL(connection.endpoint);
  const useSSL = endpoint.protocol === 'https:';
  return new Client({
    endPoint: endpoint.hostname,
    port: endpoint.port ? Number(endpoint.port) : useSSL ? 443 : 80,
    useSSL,
    region: connection.region,
    accessKey: resolveSecret(connection.accessKey),
    secretKey: resolveSecret(connection.secretKey),
  });
}
