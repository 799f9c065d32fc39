import { describe, expect, it } from 'vitest';
import { kafkaSensor } from '../../sensors/kafka/index.ts';
import { orderingKeyOf as keyOf, triggerWideKey } from '../../src/queue/ordering-key.ts';
import { parseTriggers } from '../../src/trigger/load.ts';

const base = { id: 'kafka/orders/0/1', source: '/s', type: 't' };
// Kafka's definition says where it keeps order (its partition); the core reads that, never the attributes.
const orderingKeyOf = (event: Parameters<typeof keyOf>[0], attribute: string) =>
  keyOf(event, attribute, kafkaSensor.capabilities?.sourceOrderOf);

describe('the ordering key of an event', () => {
  it('is the chosen attribute when the event has it', () => {
    expect(orderingKeyOf({ ...base, partitionkey: 'customer-7' }, 'partitionkey')).toBe('k:customer-7');
    expect(orderingKeyOf({ ...base, tenant: 42, partitionkey: 'x' }, 'tenant')).toBe('k:42');
    expect(orderingKeyOf({ ...base, subject: 'pods/web-1' }, 'subject')).toBe('k:pods/web-1');
  });

  it('falls back to the Kafka partition for a message without a key, not to its topic', () => {
    const event = { ...base, subject: 'orders', kafkatopic: 'orders', kafkapartition: 3 };
    expect(orderingKeyOf(event, 'partitionkey')).toBe('p:orders/3');
    expect(orderingKeyOf({ ...event, partitionkey: '' }, 'partitionkey')).toBe('p:orders/3');
  });

  it('falls back to the subject (a JetStream subject, an object), then to one key for the trigger', () => {
    expect(orderingKeyOf({ ...base, subject: 'orders.eu', natsstream: 'ORDERS' }, 'partitionkey')).toBe(
      's:orders.eu',
    );
    expect(orderingKeyOf(base, 'partitionkey')).toBe(triggerWideKey);
  });

  it('keeps levels apart: a key that reads like a partition is not that partition', () => {
    const keyed = orderingKeyOf({ ...base, partitionkey: 'orders/3' }, 'partitionkey');
    const partition = orderingKeyOf({ ...base, kafkatopic: 'orders', kafkapartition: 3 }, 'partitionkey');
    expect(keyed).not.toBe(partition);
  });

  it('uses no partition for a source that declares no order of its own', () => {
    const event = { ...base, subject: 'orders', kafkatopic: 'orders', kafkapartition: 3 };
    expect(keyOf(event, 'partitionkey')).toBe('s:orders');
  });

  it('hashes long keys to a bounded, stable name', () => {
    const long = 'x'.repeat(5000);
    const key = orderingKeyOf({ ...base, partitionkey: long }, 'partitionkey');
    expect(key).toMatch(/^h:[0-9a-f]{64}$/);
    expect(orderingKeyOf({ ...base, partitionkey: long }, 'partitionkey')).toBe(key);
    expect(orderingKeyOf({ ...base, partitionkey: `${long}y` }, 'partitionkey')).not.toBe(key);
  });
});

describe('spec.delivery.ordering', () => {
  const doc = (ordering: string) =>
    `apiVersion: triggerhub.io/v1alpha1\nkind: Trigger\nmetadata:\n  name: o\nspec:\n  source:\n    webhook: {}\n  target:\n    http:\n      url: http://fn/\n  delivery:\n    ordering: ${ordering}\n`;

  it('defaults the key to partitionkey', () => {
    const { triggers, invalid } = parseTriggers(doc('{ mode: per-key }'), 'o.yaml');
    expect(invalid).toEqual([]);
    expect(triggers[0]!.trigger.spec.delivery.ordering).toEqual({ mode: 'per-key', key: 'partitionkey' });
  });

  it('rejects a key that cannot order anything, naming the field', () => {
    const { invalid } = parseTriggers(doc('{ mode: per-key, key: id }'), 'o.yaml');
    expect(invalid[0]!.error).toMatch(/spec\.delivery\.ordering\.key: id, data, specversion and time/);
    const bad = parseTriggers(doc('{ mode: per-key, key: Tenant-Id }'), 'o.yaml');
    expect(bad.invalid[0]!.error).toMatch(/spec\.delivery\.ordering\.key/);
    const noMode = parseTriggers(doc('{ key: tenant }'), 'o.yaml');
    expect(noMode.invalid[0]!.error).toMatch(/spec\.delivery\.ordering\.mode/);
  });
});
