import { describe, expect, it } from 'vitest';
import type { EventInput } from '../../src/envelope/event.ts';
import { compileFilter } from '../../src/filter/filter.ts';

const event: EventInput = {
  id: 'x',
  source: '/minio',
  type: 's3:ObjectCreated:Put',
  subject: 'uploads/report.xml',
  data: { size: 10, owner: { name: 'ana' } },
};

describe('filters', () => {
  it('match everything when there is no filter', () => {
    expect(compileFilter(undefined)(event).match).toBe(true);
  });

  it('match CloudEvents attributes exactly, by prefix and by suffix (all must match)', () => {
    expect(
      compileFilter({ attributes: [{ attribute: 'type', prefix: 's3:ObjectCreated:' }] })(event).match,
    ).toBe(true);
    expect(compileFilter({ attributes: [{ attribute: 'subject', suffix: '.xml' }] })(event).match).toBe(true);
    expect(compileFilter({ attributes: [{ attribute: 'subject', suffix: '.csv' }] })(event).match).toBe(
      false,
    );
    expect(
      compileFilter({
        attributes: [
          { attribute: 'type', exact: 's3:ObjectCreated:Put' },
          { attribute: 'subject', prefix: 'other/' },
        ],
      })(event).match,
    ).toBe(false);
    expect(compileFilter({ attributes: [{ attribute: 'missing', exact: 'x' }] })(event).match).toBe(false);
  });

  it('evaluate a CEL expression over the event', () => {
    expect(
      compileFilter({ expression: 'event.data.size > 5 && event.data.owner.name == "ana"' })(event).match,
    ).toBe(true);
    expect(compileFilter({ expression: 'event.subject.endsWith(".csv")' })(event).match).toBe(false);
  });

  it('treat a failing expression as no match, and report why', () => {
    const verdict = compileFilter({ expression: 'event.data.nothing.here == 1' })(event);
    expect(verdict).toMatchObject({ match: false });
    expect(verdict.match === false && verdict.error).toMatch(/nothing/);
    const notBool = compileFilter({ expression: 'event.data.size' })(event);
    expect(notBool.match === false && notBool.error).toMatch(/not a bool/);
  });
});
