// Reads Trigger YAML (one or many documents per file) and validates each document on its own, so one bad
// Trigger never hides the good ones. Every error names the file (or resource) and the field.

import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { z } from 'zod';
import { type Trigger, triggerSchema } from './schema.ts';

/** A valid Trigger and where it came from: what the engine runs. */
export interface DesiredTrigger {
  trigger: Trigger;
  /** File path or `namespace/name` of the custom resource, for messages. */
  origin: string;
}

/** A Trigger that failed validation: reported, never run. */
export interface InvalidTrigger {
  /** The trigger's key when it could be read, else the origin. */
  key: string;
  origin: string;
  error: string;
}

export interface LoadResult {
  triggers: DesiredTrigger[];
  invalid: InvalidTrigger[];
}

export function formatIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => `${issue.path.length ? issue.path.join('.') : '(document)'}: ${issue.message}`)
    .join('; ');
}

function keyOf(raw: unknown, fallback: string): string {
  const metadata = (raw as { metadata?: { name?: unknown; namespace?: unknown } } | null)?.metadata;
  if (typeof metadata?.name !== 'string') return fallback;
  return `${typeof metadata.namespace === 'string' ? metadata.namespace : 'default'}/${metadata.name}`;
}

/** Validates one parsed document (from a file or the cluster). */
export function validateTrigger(
  raw: unknown,
  origin: string,
): { ok: true; trigger: Trigger } | { ok: false; invalid: InvalidTrigger } {
  const parsed = triggerSchema.safeParse(raw);
  if (parsed.success) return { ok: true, trigger: parsed.data };
  const key = keyOf(raw, origin);
  return {
    ok: false,
    invalid: { key, origin, error: `${origin}: Trigger ${key}: ${formatIssues(parsed.error)}` },
  };
}

export function parseTriggers(text: string, origin: string): LoadResult {
  const result: LoadResult = { triggers: [], invalid: [] };
  const documents = parseAllDocuments(text);
  const list = Array.isArray(documents) ? documents : [documents];
  list.forEach((document, index) => {
    const where = list.length > 1 ? `${origin}#${index + 1}` : origin;
    if (document.errors.length > 0) {
      const message = document.errors[0]!.message.split('\n')[0];
      result.invalid.push({ key: where, origin: where, error: `${where}: not valid YAML: ${message}` });
      return;
    }
    let raw: unknown;
    try {
      // toJS throws on what parsing lets through: an alias to an anchor never defined (`*a`), and alias
      // expansion past the library's limit (a "billion laughs" file).
      raw = document.toJS();
    } catch (error) {
      const message = (error as Error).message.split('\n')[0];
      result.invalid.push({ key: where, origin: where, error: `${where}: not valid YAML: ${message}` });
      return;
    }
    if (raw === null || raw === undefined) return; // an empty document (a trailing ---)
    const checked = validateTrigger(raw, where);
    if (checked.ok) result.triggers.push({ trigger: checked.trigger, origin: where });
    else result.invalid.push(checked.invalid);
  });
  return result;
}

export async function loadTriggerFile(path: string): Promise<LoadResult> {
  try {
    return parseTriggers(await readFile(path, 'utf8'), path);
  } catch (error) {
    return {
      triggers: [],
      invalid: [{ key: path, origin: path, error: `${path}: ${(error as Error).message}` }],
    };
  }
}

export function isTriggerFile(name: string): boolean {
  return /\.ya?ml$/i.test(name);
}

/** Every *.yaml / *.yml directly in `directory`, in a stable order. A key defined twice is an error. */
export async function loadTriggerDirectory(directory: string): Promise<LoadResult> {
  // Only the top level: examples in sub-folders (triggers/examples/) are not run by default.
  const entries = await readdir(directory, { withFileTypes: true });
  const files = entries
    .filter((entry) => entry.isFile() && isTriggerFile(entry.name))
    .map((entry) => join(entry.parentPath, entry.name))
    .sort();
  const merged: LoadResult = { triggers: [], invalid: [] };
  const seen = new Map<string, string>();
  for (const file of files) {
    const loaded = await loadTriggerFile(file);
    for (const item of loaded.triggers) {
      const key = `${item.trigger.metadata.namespace}/${item.trigger.metadata.name}`;
      const first = seen.get(key);
      if (first) {
        merged.invalid.push({
          key: `${key}@${item.origin}`,
          origin: item.origin,
          error: `${item.origin}: Trigger ${key} is already defined in ${first}`,
        });
        continue;
      }
      seen.set(key, item.origin);
      merged.triggers.push(item);
    }
    merged.invalid.push(...loaded.invalid);
  }
  return merged;
}
