// Watch events recorded from the real kube-apiserver (fixtures/), through the sensor's
// conversion, and the crash-loop example's filter and Slack text over a recorded Pod update.

import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { ApiResource, WatchEvent } from '../../src/controller/kube-client.ts';
import { toHubEvent } from '../../src/envelope/event.ts';
import { compileFilter } from '../../src/filter/filter.ts';
import { renderTemplate } from '../../src/targets/slack.ts';
import { type Trigger, triggerSchema } from '../../src/trigger/schema.ts';
import { classifyWatchError, toEventInput } from './events.ts';
import { kubernetesSpec } from './spec.ts';

const root = resolve(import.meta.dirname, '../..');
const fixture = (name: string) =>
  JSON.parse(readFileSync(`${import.meta.dirname}/fixtures/${name}`, 'utf8')) as WatchEvent[];

const resource = (kind: string, plural: string): ApiResource => ({
  group: '',
  version: 'v1',
  apiVersion: 'v1',
  resource: plural,
  kind,
  namespaced: true,
});

describe('recorded watch events', () => {
  it('a ConfigMap created, updated and deleted becomes three events with distinct ids and watch types', () => {
    const events = fixture('configmap-watch-events.json').map((e) =>
      toEventInput(
        { type: e.type as 'ADDED', object: e.object },
        resource('ConfigMap', 'configmaps'),
        kubernetesSpec.parse({ kind: 'ConfigMap' }),
      ),
    );
    expect(events.map((e) => e.k8seventtype)).toEqual(['ADDED', 'MODIFIED', 'DELETED']);
    expect(new Set(events.map((e) => e.id)).size).toBe(3);
    const uid = fixture('configmap-watch-events.json')[0]!.object.metadata!.uid;
    for (const event of events)
      expect(event.id).toMatch(new RegExp(`^k8s/${uid}/\\d+/(ADDED|MODIFIED|DELETED)$`));
  });

  it('a 410 from an expired resourceVersion is recognized as expired (relist), other errors are not', () => {
    const [error] = fixture('watch-error-410-expired.json');
    expect(error!.type).toBe('ERROR');
    expect(classifyWatchError(error!.object as never)).toEqual({
      expired: true,
      message: expect.stringContaining('too old resource version'),
    });
    expect(classifyWatchError({ code: 500, message: 'internal error' }).expired).toBe(false);
  });

  it('bookmarks carry only a resourceVersion', () => {
    const bookmarks = fixture('pod-crashloop-watch-events.json').filter((e) => e.type === 'BOOKMARK');
    expect(bookmarks.length).toBeGreaterThan(0);
    for (const b of bookmarks) expect(b.object.metadata?.resourceVersion).toMatch(/^\d+$/);
  });
});

describe('crash-loop → Slack example over a recorded Pod update', () => {
  const example = triggerSchema.parse(
    parse(readFileSync(`${root}/triggers/examples/pod-crashloop-slack.yaml`, 'utf8')),
  ) as Trigger;
  const filter = compileFilter(example.spec.filter);
  const spec = kubernetesSpec.parse(example.spec.source.kubernetes);
  const events = fixture('pod-crashloop-watch-events.json')
    .filter((e) => e.type !== 'BOOKMARK')
    .map((e) => toEventInput({ type: e.type as 'ADDED', object: e.object }, resource('Pod', 'pods'), spec));

  it('matches only the update that puts the container in CrashLoopBackOff', () => {
    const matching = events.filter(
      (e) => spec.eventTypes.includes(e.k8seventtype as 'MODIFIED') && filter(e).match,
    );
    expect(matching).toHaveLength(1);
    expect(matching[0]!.k8seventtype).toBe('MODIFIED');
  });

  it('renders a message naming the pod, namespace, container and reason', () => {
    const matching = events.find((e) => e.k8seventtype === 'MODIFIED' && filter(e).match)!;
    const text = renderTemplate(example.spec.target.slack!.text, toHubEvent(matching));
    const pod = matching.data as { metadata: { name: string; namespace: string } };
    expect(text).toContain(`Pod ${pod.metadata.namespace}/${pod.metadata.name}`);
    expect(text).toContain('container server is in CrashLoopBackOff');
    expect(text).toContain('restarts: 3');
  });
});
