// `?offset=&limit=` of the list routes (API and dashboard): non-negative integers, or a 400 naming the
// parameter. (Number("1.5") reached BullMQ as a range and failed with a 500; "abc" silently listed nothing.)

import { HubError } from '../errors.ts';

export interface Page {
  offset: number;
  limit: number;
}

function integer(name: string, raw: string | undefined, fallback: number, min: number): number {
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < min)
    throw new HubError(
      'TH_ERR_BAD_REQUEST',
      `${name} must be an integer of at least ${min}, got ${JSON.stringify(raw)}`,
    );
  return value;
}

/** The page a query asks for; `limit` is capped at `maxLimit`. */
export function pageOf(
  query: { offset?: string; limit?: string },
  defaults: { limit: number; maxLimit: number },
): Page {
  return {
    offset: integer('offset', query.offset, 0, 0),
    limit: Math.min(defaults.maxLimit, integer('limit', query.limit, defaults.limit, 1)),
  };
}
