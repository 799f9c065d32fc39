// Fuzz: the Trigger loader/validator. Whatever a file holds (random text, random YAML values, a valid
// Trigger with one field broken), parseTriggers never throws: every document is either a valid Trigger or
// an error that names the file and the field path. Valid Triggers round-trip.

import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { parseTriggers, validateTrigger } from '../../../src/trigger/load.ts';
import { fuzzTally, fuzzTimeout } from '../../support/fuzz.ts';

const tally = fuzzTally('trigger specs');
const root = resolve(import.meta.dirname, '../../..');

/** The project's own demo and example Triggers: real, valid documents to break one field at a time. */
const bases: unknown[] = ['triggers', 'triggers/examples'].flatMap((dir) =>
  readdirSync(join(root, dir))
    .filter((file) => file.endsWith('.yaml'))
    .flatMap((file) =>
      parseAllDocuments(readFileSync(join(root, dir, file), 'utf8'))
        .map((document) => document.toJS())
        .filter((document) => document !== null),
    ),
);

type Path = Array<string | number>;

function pathsOf(value: unknown, prefix: Path = []): Path[] {
  const out: Path[] = prefix.length ? [prefix] : [];
  if (Array.isArray(value))
    for (const [index, item] of value.entries()) out.push(...pathsOf(item, [...prefix, index]));
  else if (value !== null && typeof value === 'object')
    for (const [key, item] of Object.entries(value)) out.push(...pathsOf(item, [...prefix, key]));
  return out;
}

function mutate(doc: unknown, path: Path, action: 'delete' | 'set', replacement: unknown): unknown {
  const copy = structuredClone(doc) as Record<string | number, unknown>;
  let parent = copy;
  for (const part of path.slice(0, -1)) parent = parent[part] as Record<string | number, unknown>;
  const last = path[path.length - 1]!;
  if (action === 'delete' && Array.isArray(parent)) parent.splice(last as number, 1);
  else if (action === 'delete') delete parent[last];
  else parent[last] = replacement;
  return copy;
}

const origin = 'fuzz/trigger.yaml';
// A document of a multi-document file is named file#n.
const originPattern = /^fuzz\/trigger\.yaml(#\d+)?: /;

/** Values a hand-edited file might hold where something else was expected. */
const oddValue = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom('', ' ', '0', '-1', 'null', 'true', '1e400', 'http://', '$' + '{ENV}', '\u0000', 'é☃𝄞'),
  fc.integer({ min: -(2 ** 53), max: 2 ** 53 }),
  fc.constantFrom(-1, 0, 0.5, 1e21, Number.MAX_SAFE_INTEGER),
);

function expectNamedErrors(result: ReturnType<typeof parseTriggers>): void {
  for (const item of result.invalid) {
    expect(item.error).toMatch(originPattern);
    expect(item.error.length).toBeLessThan(20_000);
  }
}

describe('fuzz: Trigger files', { timeout: fuzzTimeout(60_000) }, () => {
  it('random text never throws out of the loader; every error names the file', async () => {
    await tally.check(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 300 }),
          fc.string({ unit: 'binary', maxLength: 200 }),
          // YAML-ish text: the characters YAML gives meaning to, in random order.
          fc
            .array(
              fc.constantFrom(
                ':',
                ' ',
                '\n',
                '-',
                '[',
                ']',
                '{',
                '}',
                '&a',
                '*a',
                '!!',
                '---',
                '#',
                '|',
                '>',
                '"',
                "'",
                'spec',
                'a',
              ),
              { maxLength: 60 },
            )
            .map((parts) => parts.join('')),
        ),
        (text) => {
          const result = parseTriggers(text, origin);
          expectNamedErrors(result);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('random YAML values never throw; every error names the file', async () => {
    await tally.check(
      fc.property(fc.array(fc.jsonValue({ maxDepth: 4 }), { minLength: 1, maxLength: 3 }), (documents) => {
        const text = documents.map((document) => stringify(document)).join('---\n');
        const result = parseTriggers(text, origin);
        expectNamedErrors(result);
        expect(result.triggers.length + result.invalid.length).toBeLessThanOrEqual(documents.length);
      }),
      { numRuns: 1500 },
    );
  });

  it('a valid Trigger with one field deleted or replaced is either valid (and round-trips) or names that field', async () => {
    expect(bases.length).toBeGreaterThanOrEqual(5);
    const mutation = fc
      .record({
        base: fc.constantFrom(...bases),
        pick: fc.nat(),
        action: fc.constantFrom('delete' as const, 'set' as const),
        replacement: oddValue,
      })
      .map(({ base, pick, action, replacement }) => {
        const paths = pathsOf(base);
        const path = paths[pick % paths.length]!;
        return { path, doc: mutate(base, path, action, replacement) };
      });
    await tally.check(
      fc.property(mutation, ({ path, doc }) => {
        const result = parseTriggers(stringify(doc), origin);
        expectNamedErrors(result);
        expect(result.triggers.length + result.invalid.length).toBe(1);
        if (result.invalid.length === 1) {
          // "file: Trigger ns/name: spec.source.kafka.brokers: ..."; the field is the mutated one, one of
          // its parents (a required field gone, a one-of broken) or one of its children.
          const { error } = result.invalid[0]!;
          const named = [...error.matchAll(/(?:: |; )([\w.-]+|\(document\)): /g)].map((m) => m[1]!);
          const mutated = path.join('.');
          expect(
            named.some(
              (field) =>
                field === '(document)' ||
                mutated === field ||
                mutated.startsWith(`${field}.`) ||
                field.startsWith(`${mutated}.`),
            ),
            `${error} should name ${mutated}`,
          ).toBe(true);
        } else {
          // Valid: the validated Trigger validates again to itself, also after a trip through YAML.
          const trigger = result.triggers[0]!.trigger;
          const again = validateTrigger(parse(stringify(trigger)), origin);
          expect(again.ok).toBe(true);
          if (again.ok) expect(again.trigger).toEqual(trigger);
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('a YAML alias bomb is an error naming the file, not a hang or a throw', () => {
    const bomb = [
      'a: &a ["x","x","x","x","x","x","x","x","x"]',
      ...Array.from(
        { length: 8 },
        (_, i) =>
          `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(9)
            .fill(`*${String.fromCharCode(97 + i)}`)
            .join(',')}]`,
      ),
    ].join('\n');
    const result = parseTriggers(bomb, origin);
    expect(result.triggers).toHaveLength(0);
    expect(result.invalid).toHaveLength(1);
    expect(result.invalid[0]!.error).toMatch(originPattern);
    tally.add(1);
  });
});
