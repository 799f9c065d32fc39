// Slack incoming webhooks: a text message rendered from a template over the event.

import type { HubEvent } from '../envelope/event.ts';
import type { TargetSpec } from '../trigger/schema.ts';
import { resolveSecret } from '../trigger/secret-ref.ts';
import { send } from './http-client.ts';
import type { Target } from './target.ts';

type SlackTargetSpec = NonNullable<TargetSpec['slack']>;

function lookup(event: HubEvent, path: string): unknown {
  let value: unknown = event;
  for (const part of path.split('.')) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

/** `{{type}}`, `{{data.involvedObject.name}}`: attributes and data fields; a missing one renders empty. */
export function renderTemplate(template: string, event: HubEvent): string {
  return template.replace(/\{\{\s*([\w.-]+)\s*\}\}/g, (_, path: string) => {
    const value = lookup(event, path);
    if (value === undefined || value === null) return '';
    return typeof value === 'object' ? JSON.stringify(value) : String(value);
  });
}

export function createSlackTarget(spec: SlackTargetSpec, timeoutMs: number): Target {
  const webhookUrl = resolveSecret(spec.webhookUrl);
  return {
    async deliver(event) {
      return send(webhookUrl, {
        timeoutMs,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ text: renderTemplate(spec.text, event) }),
      });
    },
    async close() {},
  };
}
