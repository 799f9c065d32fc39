import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { HubError } from '../errors.ts';

/**
 * Where a secret (token, password, webhook URL) comes from. The value never appears in a Trigger file,
 * a log line, an error message or a metric label: only the reference does.
 */
export const secretRef = z
  .object({
    env: z.string().min(1).optional().describe('Name of an environment variable of the hub process'),
    file: z.string().min(1).optional().describe('Path of a file whose content (trimmed) is the secret'),
    secretKeyRef: z
      .object({ name: z.string().min(1), key: z.string().min(1) })
      .optional()
      .describe("A key of a Secret in the Trigger's namespace (cluster mode)"),
  })
  .refine((ref) => [ref.env, ref.file, ref.secretKeyRef].filter(Boolean).length === 1, {
    message: 'set exactly one of env, file, secretKeyRef',
  })
  .meta({
    'x-kubernetes-validations': [
      {
        rule: '[has(self.env), has(self.file), has(self.secretKeyRef)].filter(x, x).size() == 1',
        message: 'set exactly one of env, file, secretKeyRef',
      },
    ],
  });

export type SecretRef = z.output<typeof secretRef>;

export function describeSecretRef(ref: SecretRef): string {
  if (ref.env) return `env ${ref.env}`;
  if (ref.file) return `file ${ref.file}`;
  return `secret ${ref.secretKeyRef?.name}/${ref.secretKeyRef?.key}`;
}

/**
 * Values of `secretKeyRef`s, filled by the controller (cluster mode) from the Secrets in the Trigger's own
 * namespace before it applies the Trigger. Keyed by the parsed reference object itself, not by name, so a
 * Trigger can only ever receive a value read from its own namespace.
 */
const clusterSecrets = new WeakMap<object, string>();

export function bindClusterSecret(secretKeyRef: NonNullable<SecretRef['secretKeyRef']>, value: string): void {
  clusterSecrets.set(secretKeyRef, value);
}

/** Resolves a reference: env or file (standalone), or a Secret the controller read (cluster mode). */
export function resolveSecret(ref: SecretRef, env: NodeJS.ProcessEnv = process.env): string {
  if (ref.env !== undefined) {
    const value = env[ref.env];
    if (value === undefined || value === '')
      throw new HubError('TH_ERR_CONFIG', `the secret's environment variable ${ref.env} is not set`);
    return value;
  }
  if (ref.file !== undefined) {
    try {
      return readFileSync(ref.file, 'utf8').trim();
    } catch (error) {
      throw new HubError('TH_ERR_CONFIG', `the secret file ${ref.file} cannot be read`, { cause: error });
    }
  }
  const bound = ref.secretKeyRef ? clusterSecrets.get(ref.secretKeyRef) : undefined;
  if (bound !== undefined) return bound;
  throw new HubError(
    'TH_ERR_CONFIG',
    `${describeSecretRef(ref)}: Secret references are resolved in cluster mode only; use env or file in standalone mode`,
  );
}
