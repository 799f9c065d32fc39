// ARCHITECTURE.md's "Add a source in 10 minutes", followed literally: in a copy of the tree, the example
// source (test/example-source/: spec.ts, sensor.ts, index.ts) becomes sensors/counter/, and its one line goes
// into that copy's src/registry.ts. Nothing else is touched; then the copy's CRD has the new kind, and a real
// hub run from the copy delivers a Trigger's counter events to a function. The example is never shipped:
// it is neither in sensors/ nor in the real src/registry.ts.

import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeHeaderValue } from '../../../src/envelope/header-encoding.ts';
import { eventId } from '../../../src/envelope/ids.ts';
import { builtinSensors } from '../../../src/registry.ts';
import {
  freePort,
  type HubProcess,
  spawnHub,
  triggerDoc,
  uniqueNamespace,
  writeTriggerDir,
} from '../../support/hub.ts';
import { type Sink, startSink } from '../../support/sink.ts';

const root = resolve(import.meta.dirname, '../../..');

/** The tree a hub runs from (src/, sensors/ without tests and fixtures, package.json, node_modules). */
function copyOfTheTree(): string {
  const dir = mkdtempSync(join(tmpdir(), 'th-add-a-source-'));
  cpSync(join(root, 'src'), join(dir, 'src'), { recursive: true });
  cpSync(join(root, 'sensors'), join(dir, 'sensors'), {
    recursive: true,
    filter: (path) => !path.endsWith('.test.ts') && !path.split('/').includes('fixtures'),
  });
  cpSync(join(root, 'package.json'), join(dir, 'package.json'));
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
  return dir;
}

/** Step 1 and 2 of the walk-through: the folder, then one import and one table line in src/registry.ts. */
function addCounterSource(tree: string): void {
  cpSync(join(root, 'test/example-source'), join(tree, 'sensors/counter'), { recursive: true });
  const registry = join(tree, 'src/registry.ts');
  const before = readFileSync(registry, 'utf8');
  const after = before
    .replace(/^(import .*\n)(?!import )/m, "$1import { counterSensor } from '../sensors/counter/index.ts';\n")
    .replace(
      'export const builtinSensors = {\n',
      'export const builtinSensors = {\n  counter: counterSensor,\n',
    );
  // Exactly two lines more, and nothing else changed.
  expect(after.split('\n').length - before.split('\n').length).toBe(2);
  expect(after.replace(/^.*counter.*\n/gm, '')).toBe(before);
  writeFileSync(registry, after);
}

describe('add a source in 10 minutes (ARCHITECTURE.md)', () => {
  const tree = copyOfTheTree();
  let hub: HubProcess | undefined;
  let sink: Sink | undefined;
  afterAll(async () => {
    hub?.child.kill('SIGKILL');
    await sink?.close();
    rmSync(tree, { recursive: true, force: true });
  });

  it('the example source is not shipped: no sensors/counter, no counter in the real registry', () => {
    expect(Object.keys(builtinSensors)).not.toContain('counter');
    expect(() => readFileSync(join(root, 'sensors/counter/index.ts'))).toThrow();
  });

  it('a folder and one line in src/registry.ts: the CRD has the new kind, and its events reach a function', async () => {
    addCounterSource(tree);
    const cli = join(tree, 'src/cli/main.ts');
    const crd = spawnSync(process.execPath, [cli, 'crd'], { encoding: 'utf8' });
    expect(crd.status, crd.stderr).toBe(0);
    expect(crd.stdout).toMatch(/counter:\n(.*\n)*? *description: Counts from 1 to count/);

    sink = await startSink();
    const namespace = uniqueNamespace('walk');
    const dir = writeTriggerDir([
      triggerDoc(namespace, 'count', {
        source: { counter: { count: 20, intervalMs: 20 } },
        target: { http: { url: sink.url } },
      }),
    ]);
    hub = await spawnHub(dir, await freePort(), {}, cli);
    await sink.waitFor(() => sink!.delivered.size >= 20, 60_000, '20 counter events');
    const numbers = sink.received.map((entry) => JSON.parse(entry.body.toString()).n as number);
    expect(numbers.sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect(sink.received[0]!.headers).toMatchObject({
      'ce-type': 'io.triggerhub.counter',
      'ce-source': `/triggerhub/counter/${namespace}/count`,
    });
    // The id is the position (`counter/<trigger>/<n>`), as ce-id carries it: percent-encoded for the header.
    const firstId = eventId('counter', `${namespace}/count`, 1);
    expect(firstId).toBe(`counter/${namespace}%2Fcount/1`);
    expect(new Set(sink.received.map((entry) => entry.id))).toContain(encodeHeaderValue(firstId));
  });
});
