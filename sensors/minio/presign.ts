// Optional enrichment: a presigned GET URL of the new object, so the function can fetch it without
// credentials of its own. Signing is local (the region is configured, so the client makes no lookup request).

import { Client } from 'minio';
import { resolveSecret } from '../../src/trigger/secret-ref.ts';
import type { MinioSpec } from './spec.ts';

export type Presigner = (bucket: string, key: string) => Promise<string>;

export function createPresigner(spec: NonNullable<MinioSpec['presign']>): Presigner {
  const endpoint = new URL(spec.endpoint);
  const useSSL = endpoint.protocol === 'https:';
  const client = new Client({
    endPoint: endpoint.hostname,
    port: endpoint.port ? Number(endpoint.port) : useSSL ? 443 : 80,
    useSSL,
    region: spec.region,
    accessKey: resolveSecret(spec.accessKey),
    secretKey: resolveSecret(spec.secretKey),
  });
  return (bucket, key) => client.presignedGetObject(bucket, key, spec.expirySeconds);
}
