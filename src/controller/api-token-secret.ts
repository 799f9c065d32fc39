// TH_API_TOKEN_SECRET: the API token kept in a Secret of the hub's own namespace (POD_NAMESPACE), key
// `api-token`, made by the hub itself on its first start. So an install (the Helm chart, deploy/install.yaml)
// gets a token without a secret value in any file. Create-if-absent: replicas racing to create it all end up
// with the one that won (409 Conflict → read it back); an existing Secret is used as it is, never rotated.

import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { errorMessage, HubError } from '../errors.ts';
import { isConflict, isNotFound, KubeClient } from './kube-client.ts';

export const apiTokenKey = 'api-token';

interface Secret {
  metadata?: { name?: string; namespace?: string };
  data?: Record<string, string>;
}

/**
 * The API token from the Secret TH_API_TOKEN_SECRET names (created with a random token when absent), or
 * undefined when it is not set. Errors are TH_ERR_CONFIG and never carry the token.
 */
export async function apiTokenFromSecret(
  env: NodeJS.ProcessEnv,
  log: Logger,
  client: KubeClient = new KubeClient(),
): Promise<string | undefined> {
  const name = env.TH_API_TOKEN_SECRET;
  if (!name) return undefined;
  const namespace = env.POD_NAMESPACE || 'default';
  const where = `Secret ${namespace}/${name} (TH_API_TOKEN_SECRET)`;
  const path = `/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets`;
  const fail = (message: string, cause?: unknown) => {
    const error = new HubError('TH_ERR_CONFIG', message, cause === undefined ? undefined : { cause });
    log.error({ code: error.code, err: message }, 'no API token');
    return error;
  };
  const failed = (action: string, error: unknown) =>
    fail(`the API token ${where} cannot be ${action}: ${errorMessage(error)}`, error);

  const read = async (): Promise<Secret | undefined> => {
    try {
      return await client.get<Secret>(`${path}/${encodeURIComponent(name)}`);
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw failed('read', error);
    }
  };

  let secret = await read();
  let created = false;
  if (!secret) {
    try {
      secret = await client.request<Secret>('POST', path, {
        body: {
          apiVersion: 'v1',
          kind: 'Secret',
          metadata: { name, namespace, labels: { 'app.kubernetes.io/created-by': 'trigger-hub' } },
          type: 'Opaque',
          data: { [apiTokenKey]: Buffer.from(randomBytes(32).toString('base64url')).toString('base64') },
        },
      });
      created = true;
    } catch (error) {
      if (!isConflict(error)) throw failed('created', error);
      secret = await read(); // another replica made it first: use theirs
      if (!secret) throw failed('read', error);
    }
  }

  const encoded = secret.data?.[apiTokenKey];
  const token = encoded === undefined ? '' : Buffer.from(encoded, 'base64').toString('utf8').trim();
  if (token === '')
    throw fail(
      `the API token ${where} has no non-empty key "${apiTokenKey}"; add one, or delete the Secret to have one made`,
    );
  log.info({ secret: `${namespace}/${name}`, created }, 'API token from Secret');
  return token;
}
