// What the HTTP routes that list triggers (/api/triggers, /dashboard/api/triggers) say about each one, as
// their clients read it: `trigger-hub status` and the dashboard page (dashboard/browser/, checked against the
// DOM, so this file holds types only and imports nothing).

export interface TriggerListing {
  key: string;
  origin: string;
  state: string;
  error?: string;
  source?: string;
  target?: string;
  health?: { connected: boolean; message?: string; lastEventAt?: string };
}
