// `trigger-hub convert`: Kubeless and Fission trigger manifests in, Trigger documents out. Each converted
// Trigger is validated with the same schema the hub loads files with; every field that could not be carried
// over is listed as a warning (and written as a comment above the Trigger).

import { Document, parseAllDocuments, stringify } from 'yaml';
import { errorMessage } from '../errors.ts';
import { parseTriggers } from '../trigger/load.ts';
import { apiGroup, apiVersion } from '../trigger/schema.ts';
import { ConvertContext, ConvertError } from './context.ts';
import { fissionConverters } from './fission.ts';
import { kubelessConverters } from './kubeless.ts';
import { type Conversion, type ConvertOptions, defaultConvertOptions, type Manifest } from './types.ts';

const convertersByGroup: Record<string, Record<string, (ctx: ConvertContext) => Record<string, unknown>>> = {
  'kubeless.io': kubelessConverters,
  'fission.io': fissionConverters,
};

export const convertedFromAnnotation = `${apiGroup}/converted-from`;

function describe(raw: Partial<Manifest>): string {
  const name = raw.metadata?.name ?? '?';
  return `${raw.apiVersion ?? '?'} ${raw.kind ?? '?'} ${raw.metadata?.namespace ?? 'default'}/${name}`;
}

/** Converts one parsed manifest. */
export function convertManifest(
  raw: unknown,
  origin: string,
  options: ConvertOptions = defaultConvertOptions,
): Conversion {
  const candidate = (raw ?? {}) as Partial<Manifest>;
  const from = describe(candidate);
  const fail = (error: string): Conversion => ({ origin, from, warnings: [], error });
  const group = candidate.apiVersion?.split('/')[0] ?? '';
  const converter = convertersByGroup[group]?.[candidate.kind ?? ''];
  if (!converter)
    return fail(
      `${candidate.kind ?? '(no kind)'} of ${candidate.apiVersion ?? '(no apiVersion)'} is not a Kubeless or Fission trigger this command converts`,
    );
  if (typeof candidate.metadata?.name !== 'string') return fail('metadata.name is missing');
  const manifest: Manifest = {
    apiVersion: candidate.apiVersion!,
    kind: candidate.kind!,
    metadata: {
      name: candidate.metadata.name,
      namespace: candidate.metadata.namespace ?? 'default',
      ...(candidate.metadata.labels ? { labels: candidate.metadata.labels } : {}),
    },
    spec: candidate.spec && typeof candidate.spec === 'object' ? candidate.spec : {},
  };
  const ctx = new ConvertContext(manifest, options);
  let spec: Record<string, unknown>;
  try {
    spec = converter(ctx);
  } catch (error) {
    if (error instanceof ConvertError) return fail(error.message);
    throw error;
  }
  const warnings = ctx.finish();
  const trigger = {
    apiVersion: `${apiGroup}/${apiVersion}`,
    kind: 'Trigger',
    metadata: {
      name: manifest.metadata.name,
      namespace: manifest.metadata.namespace,
      ...(manifest.metadata.labels ? { labels: manifest.metadata.labels } : {}),
      annotations: { [convertedFromAnnotation]: `${manifest.apiVersion} ${manifest.kind}` },
    },
    spec,
  };
  const key = `${manifest.metadata.namespace}/${manifest.metadata.name}`;
  const checked = parseTriggers(stringify(trigger), origin);
  if (checked.invalid.length > 0)
    return { origin, from, key, warnings, error: checked.invalid.map((item) => item.error).join('; ') };
  return { origin, from, key, trigger, warnings };
}

/** Converts every document of a YAML text (a file may hold many, separated by ---). */
export function convertText(
  text: string,
  origin: string,
  options: ConvertOptions = defaultConvertOptions,
): Conversion[] {
  const documents = parseAllDocuments(text);
  const list = Array.isArray(documents) ? documents : [documents];
  const results: Conversion[] = [];
  list.forEach((document, index) => {
    const where = list.length > 1 ? `${origin}#${index + 1}` : origin;
    if (document.errors.length > 0) {
      results.push({
        origin: where,
        from: '?',
        warnings: [],
        error: `not valid YAML: ${document.errors[0]!.message.split('\n')[0]}`,
      });
      return;
    }
    const raw = document.toJS();
    if (raw === null || raw === undefined) return;
    // A `kind: List` (kubectl get -o yaml) holds its manifests in items.
    if ((raw as { kind?: string }).kind === 'List' && Array.isArray((raw as { items?: unknown }).items)) {
      (raw as { items: unknown[] }).items.forEach((item, itemIndex) => {
        results.push(safeConvert(item, `${where}[${itemIndex}]`, options));
      });
      return;
    }
    results.push(safeConvert(raw, where, options));
  });
  return results;
}

function safeConvert(raw: unknown, origin: string, options: ConvertOptions): Conversion {
  try {
    return convertManifest(raw, origin, options);
  } catch (error) {
    return {
      origin,
      from: describe((raw ?? {}) as Partial<Manifest>),
      warnings: [],
      error: errorMessage(error),
    };
  }
}

/** The Trigger as YAML, with where it came from and every warning as comments above it. */
export function renderConversion(conversion: Conversion): string {
  if (!conversion.trigger) throw new Error(`${conversion.from} was not converted`);
  const document = new Document(conversion.trigger);
  document.commentBefore = [
    ` Converted from ${conversion.from} (${conversion.origin}) by trigger-hub convert.`,
    ...conversion.warnings.map((warning) => ` WARNING ${warning.field}: ${warning.message}`),
  ].join('\n');
  return document.toString({ lineWidth: 0 });
}
