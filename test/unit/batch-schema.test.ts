import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { parseTriggers } from '../../src/trigger/load.ts';

function parse(spec: Record<string, unknown>) {
  const doc = { apiVersion: 'triggerhub.io/v1alpha1', kind: 'Trigger', metadata: { name: 'etl' }, spec };
  return parseTriggers(stringify(doc), 'etl.yaml');
}

const http = { http: { url: 'http://transform.etl.svc/fn' } };
const webhook = { webhook: {} };

describe('delivery.batch in a Trigger', () => {
  it('fills in its defaults on an http target', () => {
    const { triggers, invalid } = parse({ source: webhook, target: http, delivery: { batch: {} } });
    expect(invalid).toEqual([]);
    expect(triggers[0]!.trigger.spec.delivery.batch).toEqual({
      maxEvents: 100,
      maxWaitMs: 1000,
      maxBytes: 1_048_576,
      onFailure: 'retry',
    });
  });

  it('is absent unless asked for', () => {
    const { triggers } = parse({ source: webhook, target: http });
    expect(triggers[0]!.trigger.spec.delivery.batch).toBeUndefined();
  });

  it('rejects a Slack target, naming the field', () => {
    const { invalid } = parse({
      source: webhook,
      target: { slack: { webhookUrl: { env: 'SLACK_URL' } } },
      delivery: { batch: { maxEvents: 10 } },
    });
    expect(invalid[0]!.error).toMatch(/spec\.delivery\.batch: batch works with http targets only/);
  });

  it('rejects per-key ordered delivery', () => {
    const { invalid } = parse({
      source: webhook,
      target: http,
      delivery: { batch: {}, ordering: { mode: 'per-key' } },
    });
    expect(invalid[0]!.error).toMatch(
      /spec\.delivery\.batch: batch cannot be combined with per-key ordering/,
    );
  });

  it('rejects per-event compatibility headers and a response topic (one answer per batch, not per event)', () => {
    const kubeless = parse({
      source: webhook,
      target: { http: { ...http.http, compatibility: 'kubeless' } },
      delivery: { batch: {} },
    });
    expect(kubeless.invalid[0]!.error).toMatch(/spec\.delivery\.batch: .*compatibility kubeless/);
    const replies = parse({
      source: { kafka: { brokers: ['localhost:9092'], topics: ['orders'], responseTopic: 'replies' } },
      target: http,
      delivery: { batch: {} },
    });
    expect(replies.invalid[0]!.error).toMatch(/spec\.delivery\.batch: .*source\.kafka\.responseTopic/);
    // NATS replies per event too (its definition declares it, as Kafka's does): refused the same way.
    const natsReplies = parse({
      source: { nats: { servers: ['nats://localhost:4222'], subject: 'orders', responseSubject: 'replies' } },
      target: http,
      delivery: { batch: {} },
    });
    expect(natsReplies.invalid[0]!.error).toMatch(/spec\.delivery\.batch: .*source\.nats\.responseSubject/);
    const natsWithoutReplies = parse({
      source: { nats: { servers: ['nats://localhost:4222'], subject: 'orders' } },
      target: http,
      delivery: { batch: {} },
    });
    expect(natsWithoutReplies.invalid).toEqual([]);
  });

  it('rejects out-of-range sizes and an unknown onFailure, naming each field', () => {
    const { invalid } = parse({
      source: webhook,
      target: http,
      delivery: { batch: { maxEvents: 0, maxWaitMs: 120_000, onFailure: 'drop' } },
    });
    const error = invalid[0]!.error;
    expect(error).toMatch(/spec\.delivery\.batch\.maxEvents/);
    expect(error).toMatch(/spec\.delivery\.batch\.maxWaitMs/);
    expect(error).toMatch(/spec\.delivery\.batch\.onFailure/);
  });

  it('bounds the events held in flight (concurrency × maxEvents)', () => {
    const { invalid } = parse({
      source: webhook,
      target: http,
      delivery: { concurrency: 32, batch: { maxEvents: 1000 } },
    });
    expect(invalid[0]!.error).toMatch(/concurrency × batch\.maxEvents is 32000 .* at most 10000/);
    expect(
      parse({ source: webhook, target: http, delivery: { concurrency: 10, batch: { maxEvents: 1000 } } })
        .invalid,
    ).toEqual([]);
  });
});
