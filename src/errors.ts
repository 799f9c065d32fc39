// One table of error codes (TH_ERR_*), searchable in the docs, returned in 4xx bodies and Trigger
// status conditions. Every error says whether retrying can help, so retriers ask the error, not the caller.

export const errorCodes = {
  TH_ERR_INVALID_TRIGGER: { status: 422, retriable: false, summary: 'the Trigger spec is invalid' },
  TH_ERR_UNKNOWN_TRIGGER: { status: 404, retriable: false, summary: 'no such trigger' },
  TH_ERR_NOT_FOUND: { status: 404, retriable: false, summary: 'no such route' },
  TH_ERR_STARTING: {
    status: 503,
    retriable: true,
    summary: 'the hub has not loaded its Triggers yet; nothing was accepted',
  },
  TH_ERR_UNAUTHORIZED: { status: 401, retriable: false, summary: 'missing or wrong credentials' },
  TH_ERR_FORBIDDEN: { status: 403, retriable: false, summary: 'credentials given, but not the right ones' },
  TH_ERR_BAD_REQUEST: { status: 400, retriable: false, summary: 'the request body could not be used' },
  TH_ERR_PAYLOAD_TOO_LARGE: { status: 413, retriable: false, summary: 'the body exceeds the size limit' },
  TH_ERR_UNSUPPORTED_MEDIA: { status: 415, retriable: false, summary: 'the content type is not accepted' },
  TH_ERR_QUEUE_UNAVAILABLE: {
    status: 503,
    retriable: true,
    summary: 'Redis is unavailable; nothing was accepted',
  },
  TH_ERR_EVENT_EXPIRED: {
    status: 410,
    retriable: false,
    summary: 'the event was older than delivery.maxAgeMs',
  },
  TH_ERR_POISON_EVENT: { status: 400, retriable: false, summary: 'the source message could not be parsed' },
  TH_ERR_REDIS_MISSING: { status: 500, retriable: false, summary: 'redis-server is not installed' },
  TH_ERR_INTERNAL: { status: 500, retriable: true, summary: 'an unexpected error; nothing was accepted' },
  TH_ERR_CONFIG: { status: 500, retriable: false, summary: 'invalid hub configuration' },
  TH_ERR_BACKFILL_UNSUPPORTED: {
    status: 422,
    retriable: false,
    summary: "the trigger's source is not replayable at the source",
  },
  TH_ERR_BACKFILL_CONFLICT: {
    status: 409,
    retriable: false,
    summary: 'the trigger already has a running backfill',
  },
  TH_ERR_UNKNOWN_BACKFILL: { status: 404, retriable: false, summary: 'no such backfill' },
} as const;

export type ErrorCode = keyof typeof errorCodes;

export class HubError extends Error {
  readonly code: ErrorCode;
  readonly retriable: boolean;
  readonly status: number;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; retriable?: boolean }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'HubError';
    this.code = code;
    this.retriable = options?.retriable ?? errorCodes[code].retriable;
    this.status = errorCodes[code].status;
  }

  /** `TH_ERR_…: message`, where only text is kept: a dead letter's reason, a job's failedReason. */
  describe(): string {
    return `${this.code}: ${this.message}`;
  }

  toJSON(): { code: ErrorCode; message: string } {
    return { code: this.code, message: this.message };
  }
}

export function isRetriable(error: unknown): boolean {
  return error instanceof HubError ? error.retriable : true;
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
