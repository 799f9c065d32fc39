// Trigger status as the controller writes it: conditions with reasons, observedGeneration, counters, and
// lastTransitionTime that only moves when a condition's status does.

import { describe, expect, it } from 'vitest';
import { secretKeyRefs } from '../../src/controller/controller.ts';
import { parseNamespaces } from '../../src/controller/controller-mode.ts';
import { buildStatus, statusChanged } from '../../src/controller/status.ts';
import type { TriggerState } from '../../src/engine/engine.ts';
import type { RunningTrigger } from '../../src/engine/running-trigger.ts';
import { type Trigger, triggerSchema } from '../../src/trigger/schema.ts';
import { bindClusterSecret, resolveSecret } from '../../src/trigger/secret-ref.ts';

const trigger = triggerSchema.parse({
  apiVersion: 'triggerhub.io/v1alpha1',
  kind: 'Trigger',
  metadata: { name: 'ticks', namespace: 'apps' },
  spec: { source: { cron: { every: 1000 } }, target: { http: { url: 'http://127.0.0.1:1/fn' } } },
}) as Trigger;

function running(connected: boolean, error?: string): TriggerState {
  return {
    key: 'apps/ticks',
    origin: 'apps/ticks',
    state: 'running',
    trigger,
    running: {
      health: () => ({ connected, ...(connected ? {} : { message: 'connection refused' }) }),
    } as RunningTrigger,
    ...(error ? { error } : {}),
  };
}

const byType = (status: ReturnType<typeof buildStatus>) =>
  Object.fromEntries((status.conditions ?? []).map((c) => [c.type, `${c.status}/${c.reason}`]));

describe('Trigger status', () => {
  it('a running, connected trigger is Ready with its source kind, generation and counters', () => {
    const status = buildStatus({ state: running(true), generation: 3, counters: { delivered: 5 } });
    expect(byType(status)).toEqual({
      Ready: 'True/Running',
      SourceConnected: 'True/Connected',
      Degraded: 'False/AsExpected',
    });
    expect(status).toMatchObject({ observedGeneration: 3, sourceKind: 'cron', counters: { delivered: 5 } });
  });

  it('says why a trigger is not Ready: invalid spec, failed start, lost source, missing Secret', () => {
    const invalid = buildStatus({
      state: { key: 'apps/ticks', origin: 'apps/ticks', state: 'invalid', error: 'spec.source: bad' },
      generation: 1,
    });
    expect(byType(invalid).Ready).toBe('False/InvalidSpec');
    expect(invalid.conditions?.[0]?.message).toBe('spec.source: bad');
    const failed = buildStatus({
      state: { ...running(true), state: 'failed', error: 'boom' },
      generation: 1,
    });
    expect(byType(failed).Ready).toBe('False/StartFailed');
    const lost = buildStatus({ state: running(false), generation: 1 });
    expect(byType(lost)).toMatchObject({ Ready: 'False/SourceNotConnected', Degraded: 'True/Disconnected' });
    const refused = buildStatus({
      state: undefined,
      generation: 1,
      refused: { reason: 'SecretNotFound', message: 'Secret apps/slack not found' },
    });
    expect(byType(refused).Ready).toBe('False/SecretNotFound');
    const newer = buildStatus({ state: running(true, 'a newer version is invalid'), generation: 2 });
    expect(byType(newer)).toMatchObject({ Ready: 'True/Running', Degraded: 'True/NewerVersionInvalid' });
  });

  it('keeps lastTransitionTime while a condition keeps its status', () => {
    const first = buildStatus({ state: running(true), generation: 1, now: new Date('2026-01-01T00:00:00Z') });
    const again = buildStatus({
      state: running(true),
      generation: 1,
      previous: first,
      now: new Date('2026-01-01T00:05:00Z'),
    });
    expect(statusChanged(first, again)).toBe(false);
    const lost = buildStatus({
      state: running(false),
      generation: 1,
      previous: again,
      now: new Date('2026-01-01T00:09:00Z'),
    });
    const ready = lost.conditions?.find((c) => c.type === 'Ready');
    expect(ready?.lastTransitionTime).toBe('2026-01-01T00:09:00Z');
    expect(statusChanged(again, lost)).toBe(true);
  });
});

describe('cluster secrets', () => {
  it('finds every secretKeyRef of a spec and resolves only the references the controller bound', () => {
    const spec = {
      source: { webhook: { auth: { bearer: { secretKeyRef: { name: 'hook', key: 'token' } } } } },
      target: { slack: { webhookUrl: { secretKeyRef: { name: 'slack', key: 'url' } } } },
    };
    const refs = secretKeyRefs(spec);
    expect(refs.map((r) => r.name)).toEqual(['hook', 'slack']);
    bindClusterSecret(refs[1]!, 'https://hooks.example/T000');
    expect(resolveSecret(spec.target.slack.webhookUrl)).toBe('https://hooks.example/T000');
    // An equal reference that the controller did not read (another Trigger, another namespace) is not resolved.
    expect(() => resolveSecret({ secretKeyRef: { name: 'slack', key: 'url' } })).toThrow(/cluster mode/);
  });

  it('reads --kubernetes as all namespaces or a list', () => {
    expect(parseNamespaces(true)).toEqual([]);
    expect(parseNamespaces('a, b,,c')).toEqual(['a', 'b', 'c']);
  });
});
