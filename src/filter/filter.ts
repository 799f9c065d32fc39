// Filters run before enqueue, so a dropped event costs no Redis write and no delivery.

import { compileCel } from '../cel.ts';
import type { EventInput } from '../envelope/event.ts';
import type { FilterSpec } from '../trigger/schema.ts';

export type FilterVerdict = { match: true } | { match: false; error?: string };

export type EventFilter = (event: EventInput) => FilterVerdict;

const matchAll: EventFilter = () => ({ match: true });

export function compileFilter(spec: FilterSpec | undefined): EventFilter {
  if (!spec) return matchAll;
  const attributes = spec.attributes ?? [];
  const program = spec.expression ? compileCel(spec.expression) : undefined;
  return (event) => {
    for (const rule of attributes) {
      const raw = event[rule.attribute];
      // Attributes are strings, numbers or booleans. Anything else (an object such as `data`) never
      // matches: String() of `{"toString": 1}` from a JSON body throws, and a filter that throws would
      // fail the whole emit (a 500 to the webhook, a Kafka batch retried forever).
      if (typeof raw !== 'string' && typeof raw !== 'number' && typeof raw !== 'boolean')
        return { match: false };
      const value = String(raw);
      if (rule.exact !== undefined && value !== rule.exact) return { match: false };
      if (rule.prefix !== undefined && !value.startsWith(rule.prefix)) return { match: false };
      if (rule.suffix !== undefined && !value.endsWith(rule.suffix)) return { match: false };
    }
    if (!program) return { match: true };
    try {
      const result = program({ event });
      if (result === true) return { match: true };
      if (result === false) return { match: false };
      return { match: false, error: `the expression gave ${typeof result}, not a bool` };
    } catch (error) {
      // A missing field is an error in CEL; the event does not match, and the error is counted.
      return { match: false, error: (error instanceof Error ? error.message : String(error)).split('\n')[0] };
    }
  };
}
