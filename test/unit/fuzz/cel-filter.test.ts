// Fuzz: CEL filters. Any expression text either compiles or is refused with a clear one-line reason (the
// same one the Trigger schema reports at spec.filter.expression); a compiled filter, run over any event,
// never throws: it answers match or no match, with the error when the expression failed on that event.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isCelValid } from '../../../src/cel.ts';
import type { EventInput } from '../../../src/envelope/event.ts';
import { compileFilter } from '../../../src/filter/filter.ts';
import { filterSchema } from '../../../src/trigger/schema.ts';
import { fuzzTally, fuzzTimeout } from '../../support/fuzz.ts';

const tally = fuzzTally('CEL filters');

const celString = fc.string({ maxLength: 8 }).map((text) => JSON.stringify(text));
const field = fc.constantFrom('type', 'source', 'subject', 'id', 'data', 'time', 'tenant', 'missing');
const dataPath = fc
  .array(fc.constantFrom('a', 'b', 'reason', 'size', 'items', 'x_y'), { minLength: 1, maxLength: 3 })
  .map((parts) => `event.data.${parts.join('.')}`);

/** Expressions from CEL's grammar: mostly well-formed, often ill-typed, sometimes failing at run time. */
const { expression } = fc.letrec<{ expression: string; leaf: string }>((tie) => ({
  leaf: fc.oneof(
    fc.integer().map(String),
    fc
      .double({ noNaN: true, noDefaultInfinity: true })
      .map((n) => (Number.isInteger(n) ? `${n}.0` : String(n))),
    fc.nat().map((n) => `${n}u`),
    celString,
    fc.constantFrom('true', 'false', 'null', 'b"\\x00\\xff"', '[]', '{}', 'event', 'x'),
    field.map((name) => `event.${name}`),
    field.map((name) => `event["${name}"]`),
    dataPath,
  ),
  expression: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    tie('leaf'),
    fc
      .tuple(
        tie('expression'),
        fc.constantFrom('==', '!=', '<', '<=', '>', '>=', '+', '-', '*', '/', '%', '&&', '||', 'in'),
        tie('expression'),
      )
      .map(([a, op, b]) => `${a} ${op} ${b}`),
    tie('expression').map((e) => `!${e}`),
    tie('expression').map((e) => `-${e}`),
    tie('expression').map((e) => `(${e})`),
    fc
      .tuple(tie('expression'), tie('expression'), tie('expression'))
      .map(([c, a, b]) => `${c} ? ${a} : ${b}`),
    fc
      .tuple(
        fc.constantFrom('size', 'int', 'uint', 'double', 'string', 'bytes', 'bool', 'type', 'dyn'),
        tie('expression'),
      )
      .map(([fn, e]) => `${fn}(${e})`),
    fc
      .tuple(tie('expression'), fc.constantFrom('startsWith', 'endsWith', 'contains', 'matches'), celString)
      .map(([e, fn, arg]) => `${e}.${fn}(${arg})`),
    dataPath.map((path) => `has(${path})`),
    fc
      .tuple(
        tie('expression'),
        fc.constantFrom('exists', 'all', 'exists_one', 'map', 'filter'),
        tie('expression'),
      )
      .map(([list, macro, body]) => `${list}.${macro}(x, ${body})`),
    fc.tuple(tie('expression'), tie('expression')).map(([a, b]) => `${a}[${b}]`),
    fc.array(tie('expression'), { maxLength: 3 }).map((items) => `[${items.join(', ')}]`),
    fc.tuple(celString, tie('expression')).map(([k, v]) => `{${k}: ${v}}`),
  ),
}));

/** Text that is not CEL at all, or CEL cut at a random place. */
const garbage = fc.oneof(
  fc.string({ maxLength: 80 }),
  fc.tuple(expression, fc.nat()).map(([e, cut]) => e.slice(0, cut % (e.length + 1))),
  fc
    .array(
      fc.constantFrom(
        '(',
        ')',
        '[',
        ']',
        '{',
        '}',
        '.',
        ',',
        '?',
        ':',
        '"',
        "'",
        '\\',
        'event',
        '==',
        '&&',
        '!',
        '1',
        ' ',
      ),
      { maxLength: 30 },
    )
    .map((parts) => parts.join('')),
);

const event: fc.Arbitrary<EventInput> = fc.record(
  {
    id: fc.string({ minLength: 1 }),
    source: fc.string({ minLength: 1 }),
    type: fc.string({ minLength: 1 }),
    subject: fc.string(),
    time: fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
    tenant: fc.oneof(fc.string(), fc.integer(), fc.boolean()),
    data: fc.oneof(
      fc.jsonValue({ maxDepth: 3 }),
      fc.record(
        {
          a: fc.jsonValue({ maxDepth: 2 }),
          reason: fc.string(),
          size: fc.integer(),
          items: fc.array(fc.integer()),
        },
        { requiredKeys: [] },
      ),
    ),
  },
  { requiredKeys: ['id', 'source', 'type'] },
);

describe('fuzz: CEL filters', { timeout: fuzzTimeout(120_000) }, () => {
  it('compile or give a clear one-line reason, the same one the schema reports', async () => {
    await tally.check(
      fc.property(fc.oneof(expression, garbage), (text) => {
        const error = isCelValid(text);
        const parsed = filterSchema.safeParse({ expression: text });
        if (text === '') return; // refused by the schema's min(1) before CEL sees it
        if (error === undefined) {
          expect(parsed.success, `${text}: ${parsed.error?.message}`).toBe(true);
          expect(() => compileFilter({ expression: text })).not.toThrow();
        } else {
          expect(typeof error).toBe('string');
          expect(error.trim()).not.toBe('');
          expect(error).not.toContain('\n');
          expect(parsed.success).toBe(false);
          expect(parsed.error!.issues[0]).toMatchObject({
            path: ['expression'],
            message: `invalid CEL expression: ${error}`,
          });
        }
      }),
      { numRuns: 2500 },
    );
  });

  it('never throw out of the filter, whatever the event: a verdict, with the error when evaluation failed', async () => {
    await tally.check(
      fc.property(
        expression.filter((text) => isCelValid(text) === undefined),
        fc.array(event, { minLength: 1, maxLength: 4 }),
        (text, events) => {
          const filter = compileFilter({ expression: text });
          for (const input of events) {
            const verdict = filter(input);
            expect(typeof verdict.match).toBe('boolean');
            if (!verdict.match && verdict.error !== undefined) {
              expect(typeof verdict.error).toBe('string');
              expect(verdict.error).not.toContain('\n');
            }
            // Deterministic: the same event gets the same verdict.
            expect(filter(input)).toEqual(verdict);
          }
        },
      ),
      { numRuns: 2500 },
    );
  });

  it('attribute matches never throw on any attribute value', async () => {
    await tally.check(
      fc.property(
        fc.array(
          fc.record({
            attribute: fc.constantFrom('type', 'subject', 'tenant', 'data', 'missing'),
            kind: fc.constantFrom('exact', 'prefix', 'suffix'),
            value: fc.string({ maxLength: 5 }),
          }),
          { maxLength: 4 },
        ),
        event,
        (rules, input) => {
          const filter = compileFilter({
            attributes: rules.map((rule) => ({ attribute: rule.attribute, [rule.kind]: rule.value })),
          });
          const verdict = filter(input);
          expect(typeof verdict.match).toBe('boolean');
          // The oracle: every rule holds on a scalar attribute compared as text; objects never match.
          const expected = rules.every((rule) => {
            const raw = input[rule.attribute];
            if (!['string', 'number', 'boolean'].includes(typeof raw)) return false;
            const text = String(raw);
            if (rule.kind === 'exact') return text === rule.value;
            return rule.kind === 'prefix' ? text.startsWith(rule.value) : text.endsWith(rule.value);
          });
          expect(verdict.match).toBe(expected);
        },
      ),
      { numRuns: 1000 },
    );
  });
});
