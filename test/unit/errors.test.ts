import { describe, expect, it } from 'vitest';
import { HubError, isRetriable } from '../../src/errors.ts';

describe('HubError', () => {
  it('reads `TH_ERR_…: message` where only text is kept (a dead letter, a failedReason)', () => {
    const poison = new HubError('TH_ERR_POISON_EVENT', 'a malformed structured CloudEvent: missing type');
    expect(poison.describe()).toBe('TH_ERR_POISON_EVENT: a malformed structured CloudEvent: missing type');
    expect(poison.message).toBe('a malformed structured CloudEvent: missing type');
  });

  it('says whether retrying can help: from its code, unless told otherwise; an uncoded error may pass', () => {
    expect(isRetriable(new HubError('TH_ERR_QUEUE_UNAVAILABLE', 'Redis is away'))).toBe(true);
    expect(isRetriable(new HubError('TH_ERR_EVENT_EXPIRED', 'too old'))).toBe(false);
    expect(isRetriable(new HubError('TH_ERR_QUEUE_UNAVAILABLE', 'never', { retriable: false }))).toBe(false);
    expect(isRetriable(new Error('socket hang up'))).toBe(true);
  });
});
