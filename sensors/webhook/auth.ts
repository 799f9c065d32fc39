import { createHmac } from 'node:crypto';

export function hmacSignature(algorithm: string, secret: string, body: Buffer): string {
  return createHmac(algorithm, secret).update(body).digest('hex');
}
