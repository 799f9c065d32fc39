import { describe, expect, it } from 'vitest';
import { isRetriableStatus, parseRetryAfter, safeUrl } from '../../src/targets/http-client.ts';
import { renderTemplate } from '../../src/targets/slack.ts';

describe('delivery classification', () => {
  it('retries network-ish statuses (408, 429, 5xx) and dead-letters other 4xx', () => {
    expect([408, 429, 500, 502, 503, 504].every(isRetriableStatus)).toBe(true);
    expect([400, 401, 403, 404, 409, 410, 422].some(isRetriableStatus)).toBe(false);
  });

  it('reads Retry-After as seconds or as an HTTP date', () => {
    expect(parseRetryAfter('7')).toBe(7000);
    const now = Date.parse('2026-11-23T10:00:00Z');
    expect(parseRetryAfter('Mon, 23 Nov 2026 10:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter(undefined)).toBeUndefined();
  });

  it('never shows a URL path or query in messages (Slack webhook paths are secrets)', () => {
    expect(safeUrl('https://hooks.slack.com/services/T000/B000/XXXXSECRET?x=1')).toBe(
      'https://hooks.slack.com',
    );
  });
});

describe('Slack templates', () => {
  const event = {
    specversion: '1.0' as const,
    id: 'k8s/1/2/MODIFIED',
    source: '/k8s',
    type: 'io.triggerhub.kubernetes.pod',
    subject: 'default/web-1',
    data: { status: { reason: 'CrashLoopBackOff' }, count: 3 },
  };

  it('fills attributes and data fields, and leaves missing ones empty', () => {
    expect(
      renderTemplate('{{subject}}: {{data.status.reason}} x{{ data.count }} {{data.nope}}!', event),
    ).toBe('default/web-1: CrashLoopBackOff x3 !');
  });
});
