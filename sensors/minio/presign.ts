// Optional enrichment: a presigned GET URL of the new object, so the function can fetch it without
// credentials of its own. Signing is local (the region is configured, so the client makes no lookup request).

import { clientFor } from './client.ts';
import type { MinioSpec } from './spec.ts';

export type Presigner = (bucket: string, key: string) => Promise<string>;

export function createPresigner(spec: NonNullable<MinioSpec['presign']>): Presigner {
  const client = clientFor(spec);
  return (bucket, key) => client.presignedGetObject(bucket, key, spec.expirySeconds);
}
