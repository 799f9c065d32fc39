// Reads a manifest's spec field by field. Every field a converter takes is marked; whatever is left at the
// end gets a warning, so a field no converter knows about is reported rather than silently dropped.

import type { ConvertOptions, ConvertWarning, Manifest } from './types.ts';

export class ConvertError extends Error {}

export class ConvertContext {
  readonly manifest: Manifest;
  readonly options: ConvertOptions;
  readonly warnings: ConvertWarning[] = [];
  private readonly taken = new Set<string>();

  constructor(manifest: Manifest, options: ConvertOptions) {
    this.manifest = manifest;
    this.options = options;
  }

  get namespace(): string {
    return this.manifest.metadata.namespace;
  }

  /** The value of spec.<field>, marked as handled; empty strings, nulls and empty objects count as unset. */
  take(field: string): unknown {
    this.taken.add(field);
    const value = this.manifest.spec[field];
    if (value === null || value === undefined || value === '') return undefined;
    if (typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length === 0)
      return undefined;
    return value;
  }

  string(field: string): string | undefined {
    const value = this.take(field);
    if (value === undefined) return undefined;
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean')
      throw new ConvertError(`spec.${field} must be a string`);
    return String(value);
  }

  requireString(field: string): string {
    const value = this.string(field);
    if (value === undefined) throw new ConvertError(`spec.${field} is required`);
    return value;
  }

  /** Takes a field the Trigger has no equivalent for: a warning when it is set. */
  drop(field: string, why: string): void {
    if (this.take(field) !== undefined) this.warn(`spec.${field}`, why);
  }

  warn(field: string, message: string): void {
    this.warnings.push({ field, message });
  }

  /** Warns about every spec field no converter step looked at. */
  finish(): ConvertWarning[] {
    for (const field of Object.keys(this.manifest.spec))
      if (!this.taken.has(field) && this.manifest.spec[field] !== null && this.manifest.spec[field] !== '')
        this.warn(`spec.${field}`, 'a field the converter does not know: not carried over');
    return this.warnings;
  }
}
