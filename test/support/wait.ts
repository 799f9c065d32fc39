// The one poll loop, shared with the scripts (scripts must not import test code, so it lives there).
export { waitFor } from '../../scripts/services/lib/probe.ts';
