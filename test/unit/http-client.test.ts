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

describe('ce-* header values (CloudEvents HTTP binding 3.1.3.2)', () => {
  it('keep printable ASCII and percent-encode the rest as UTF-8, reversibly', async () => {
    const { decodeHeaderValue, encodeHeaderValue } = await import('../../src/envelope/header-encoding.ts');
    expect(encodeHeaderValue('uploads/report 1.xml')).toBe('uploads/report 1.xml');
    expect(encodeHeaderValue('données/été+x%.csv')).toBe('donn%C3%A9es/%C3%A9t%C3%A9+x%25.csv');
    expect(encodeHeaderValue('日本/📄 "q".xml')).toBe('%E6%97%A5%E6%9C%AC/%F0%9F%93%84 %22q%22.xml');
    for (const text of ['日本/📄 "q".xml', 'données/été+x%.csv', 'plain', '%41 stays %41']) {
      expect(decodeHeaderValue(encodeHeaderValue(text))).toBe(text);
    }
    expect(decodeHeaderValue('bad %E6 escape')).toBe('bad %E6 escape');
  });
});
