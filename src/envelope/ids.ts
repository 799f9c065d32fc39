// Deterministic event ids (docs/design.md "Event envelope and ids"): the same source position always gives
// the same id, so a replayed position enqueues nothing new (the id is the BullMQ job id) and the target can
// de-duplicate on `ce-id` / `Idempotency-Key`.

/**
 * encodeURIComponent, except that it does not throw on a lone UTF-16 surrogate (JSON may carry one as
 * "\ud800", e.g. in a MinIO object key): that becomes `%uD800`, which percent-encoding never produces
 * itself, so distinct parts still give distinct ids.
 */
function encodePart(part: string): string {
  if (part.isWellFormed()) return encodeURIComponent(part);
  let out = '';
  for (const char of part) {
    const code = char.codePointAt(0)!;
    out +=
      code >= 0xd800 && code <= 0xdfff ? `%u${code.toString(16).toUpperCase()}` : encodeURIComponent(char);
  }
  return out;
}

/** Joins the parts of a source position into a readable, unambiguous id: `kafka/orders/3/1042`. */
export function eventId(kind: string, ...parts: Array<string | number | bigint>): string {
  return [kind, ...parts.map((part) => encodePart(String(part)))].join('/');
}

/**
 * BullMQ job ids must not contain `:` (Redis key separator) and must not be all digits (BullMQ treats those
 * as its own counter ids). Escaping `%` first keeps the mapping one-to-one.
 */
export function toJobId(id: string): string {
  const escaped = id.replaceAll('%', '%25').replaceAll(':', '%3A');
  return /^\d+$/.test(escaped) ? `%23${escaped}` : escaped;
}

export function fromJobId(jobId: string): string {
  const body = jobId.startsWith('%23') ? jobId.slice(3) : jobId;
  return body.replace(/%(25|3A)/g, (sequence) => (sequence === '%25' ? '%' : ':'));
}
