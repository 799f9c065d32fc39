import { z } from 'zod';

export const watchEventTypes = ['ADDED', 'MODIFIED', 'DELETED'] as const;
export type WatchEventType = (typeof watchEventTypes)[number];

export const kubernetesSpec = z
  .object({
    apiVersion: z
      .string()
      .min(1)
      .default('v1')
      .describe('API group/version of the watched resource, e.g. v1, apps/v1, triggerhub.io/v1alpha1'),
    kind: z
      .string()
      .min(1)
      .optional()
      .describe('Kind to watch (e.g. Pod, ConfigMap); resolved to its resource through API discovery'),
    resource: z.string().min(1).optional().describe('Plural resource name (e.g. pods), instead of kind'),
    namespace: z
      .string()
      .min(1)
      .optional()
      .describe('Watch this namespace only; all namespaces when unset (ignored for cluster-scoped kinds)'),
    labelSelector: z.string().min(1).optional().describe('Label selector, e.g. app=web,tier!=cache'),
    fieldSelector: z.string().min(1).optional().describe('Field selector, e.g. status.phase=Running'),
    eventTypes: z
      .array(z.enum(watchEventTypes))
      .min(1)
      .default([...watchEventTypes])
      .describe('Watch event types to emit (the others are still checkpointed, never re-sent)'),
    payload: z
      .enum(['object', 'reference'])
      .default('object')
      .describe(
        'object: the whole object as event data; reference: apiVersion, kind and metadata names only',
      ),
    initialObjects: z
      .enum(['skip', 'emit'])
      .default('skip')
      .describe(
        'What a new trigger does with the objects that already exist: skip them, or emit each as a synthetic ADDED',
      ),
    staleAfterSeconds: z
      .int()
      .min(5)
      .max(3600)
      .default(90)
      .describe(
        'Restart a watch that received nothing (no event, no bookmark) for this long; bookmarks come about every minute',
      ),
    watchTimeoutSeconds: z
      .int()
      .min(10)
      .max(3600)
      .default(300)
      .describe('Ask the server to end each watch request after about this long (it is then resumed)'),
  })
  .superRefine((spec, ctx) => {
    if ((spec.kind === undefined) === (spec.resource === undefined))
      ctx.addIssue({ code: 'custom', message: 'set exactly one of kind, resource' });
  })
  .meta({
    'x-kubernetes-validations': [
      { rule: 'has(self.kind) != has(self.resource)', message: 'set exactly one of kind, resource' },
    ],
  });

export type KubernetesSpec = z.output<typeof kubernetesSpec>;
