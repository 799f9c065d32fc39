// What the dashboard page reads from its data routes, in the page's own terms: only the fields it shows.
// The routes in ../index.ts are typed with these, so `npm run typecheck` fails when a server shape stops
// giving the page what it reads. Types only: the served script keeps nothing of this file.

import type { TriggerListing } from '../../trigger-listing.ts';

/** Server-side values the page needs, passed as JSON in the page (never spliced into the script). */
export interface PageData {
  /** The hub has an API token: show "Sign out". */
  signOut: boolean;
}

export interface TriggerRow extends TriggerListing {
  depth?: number;
  oldestEventAgeSeconds?: number;
  deadLetters?: number;
  stats: {
    qps: number;
    failureRate: number;
    lastMinute: { received: number };
    totals: { delivered: number; replayed: number };
    lastEventAt?: string;
    eventAge?: { p50Seconds: number; p99Seconds: number; deliveries: number };
    recentErrors: Array<{ at: string; kind: string; message: string }>;
  };
}

export interface DeadLetterRow {
  jobId: string;
  event: { id: string; type: string };
  attempts: number;
  reason: string;
  lastAttempt?: { status?: number };
  failedAt?: string;
}

export interface TriggerDetail extends TriggerRow {
  recentEvents: Array<{ id: string; type: string; deliveredAt?: string }>;
  deadLetterCount: number;
  deadLetterEntries: DeadLetterRow[];
  backfillDeadLetterCount: number;
  backfillDeadLetterEntries: DeadLetterRow[];
}

export interface TriggersResponse {
  triggers: TriggerRow[];
}

export interface ReplayResponse {
  replayed: number;
}
