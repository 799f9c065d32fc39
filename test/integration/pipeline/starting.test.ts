// A hub serves before it has loaded its Triggers (it must answer health checks); a webhook that arrives in
// that window is told to retry (503 TH_ERR_STARTING), not that its trigger does not exist (404), which a
// sender would take as final and drop the event.

import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { startHub } from '../../../src/hub.ts';
import { testConfig, uniqueNamespace } from '../../support/hub.ts';
import { post } from '../../support/post.ts';

describe('a hub that has not loaded its Triggers yet', () => {
  it('answers webhooks 503 TH_ERR_STARTING with Retry-After, then 404 for unknown paths once loaded', async () => {
    const config = testConfig();
    const hub = await startHub({ config, log: pino({ level: 'silent' }) });
    try {
      const url = `${hub.url}/webhooks/${uniqueNamespace('start')}/fn`;
      const early = await fetch(url, {
        method: 'POST',
        body: '{}',
        headers: { 'content-type': 'application/json' },
      });
      expect(early.status).toBe(503);
      expect(early.headers.get('retry-after')).toBe('1');
      expect(await early.json()).toMatchObject({ code: 'TH_ERR_STARTING' });
      await hub.engine.apply([]);
      const late = await post(url, '{}');
      expect(late.status).toBe(404);
      expect(late.json()).toMatchObject({ code: 'TH_ERR_UNKNOWN_TRIGGER' });
    } finally {
      await hub.close();
    }
  });
});
