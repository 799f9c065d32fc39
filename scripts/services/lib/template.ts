import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixturesDir } from './paths.ts';

/** Reads fixtures/services/<path> and fills its {{NAME}} placeholders; an unknown placeholder is an error. */
export function renderFixture(path: string, vars: Record<string, string | number>): string {
  const text = readFileSync(join(fixturesDir, path), 'utf8');
  return text.replace(/\{\{([A-Z_]+)\}\}/g, (_, name: string) => {
    if (!(name in vars)) throw new Error(`fixtures/services/${path}: no value for {{${name}}}`);
    return String(vars[name]);
  });
}
