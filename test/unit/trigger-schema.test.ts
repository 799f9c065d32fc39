import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { triggerCrdYaml } from '../../src/trigger/crd.ts';
import { parseTriggers } from '../../src/trigger/load.ts';

const root = resolve(import.meta.dirname, '../..');

function trigger(spec: string, name = 'example'): string {
  return `apiVersion: triggerhub.io/v1alpha1\nkind: Trigger\nmetadata:\n  name: ${name}\nspec:\n${spec}`;
}

const httpTarget = '  target:\n    http:\n      url: http://fn.default.svc/echo\n';

describe('Trigger files', () => {
  it('accept a valid Trigger and fill in the delivery defaults', () => {
    const { triggers, invalid } = parseTriggers(
      trigger(`  source:\n    cron:\n      schedule: "*/5 * * * *"\n${httpTarget}`),
      'a.yaml',
    );
    expect(invalid).toEqual([]);
    expect(triggers[0]!.trigger.metadata.namespace).toBe('default');
    expect(triggers[0]!.trigger.spec.delivery).toMatchObject({
      retries: 10,
      timeoutMs: 10_000,
      concurrency: 32,
    });
    expect(triggers[0]!.trigger.spec.source.cron?.timezone).toBe('UTC');
  });

  it('name the file, the Trigger and the field in errors', () => {
    const { invalid } = parseTriggers(
      trigger(`  source:\n    cron:\n      schedule: "61 * * * *"\n${httpTarget}`),
      'bad.yaml',
    );
    expect(invalid[0]!.error).toMatch(
      /^bad\.yaml: Trigger default\/example: spec\.source\.cron\.schedule: invalid cron expression/,
    );
  });

  it('reject a CEL syntax error in the filter', () => {
    const { invalid } = parseTriggers(
      trigger(`  source:\n    webhook: {}\n  filter:\n    expression: 'event.type =='\n${httpTarget}`),
      'cel.yaml',
    );
    expect(invalid[0]!.error).toMatch(/spec\.filter\.expression: invalid CEL expression/);
  });

  it('reject two source kinds, and no target', () => {
    const two = parseTriggers(
      trigger(`  source:\n    webhook: {}\n    cron:\n      every: 5000\n${httpTarget}`),
      'two.yaml',
    );
    expect(two.invalid[0]!.error).toMatch(/spec\.source: set exactly one source kind/);
    const none = parseTriggers(trigger('  source:\n    webhook: {}\n'), 'none.yaml');
    expect(none.invalid[0]!.error).toMatch(/spec\.target/);
  });

  it('keep the valid documents of a file that also has an invalid one', () => {
    const text = [
      trigger(`  source:\n    webhook: {}\n${httpTarget}`, 'good'),
      trigger(`  source:\n    webhook:\n      maxBodyBytes: -1\n${httpTarget}`, 'bad'),
      'not: [valid',
    ].join('\n---\n');
    const { triggers, invalid } = parseTriggers(text, 'multi.yaml');
    expect(triggers.map((t) => t.trigger.metadata.name)).toEqual(['good']);
    expect(invalid.map((i) => i.key)).toEqual(['default/bad', 'multi.yaml#3']);
    expect(invalid[1]!.error).toMatch(/not valid YAML/);
  });

  it('reject a bad name and a non-http URL', () => {
    const { invalid } = parseTriggers(
      trigger('  source:\n    webhook: {}\n  target:\n    http:\n      url: ftp://x/y\n', 'Bad_Name'),
      'n.yaml',
    );
    expect(invalid[0]!.error).toMatch(/metadata\.name/);
    expect(invalid[0]!.error).toMatch(/spec\.target\.http\.url/);
  });
});

describe('shipped Trigger files', () => {
  const dirs = ['triggers', 'triggers/examples'].map((dir) => join(root, dir));
  const files = dirs.flatMap((dir) => {
    try {
      return readdirSync(dir)
        .filter((name) => /\.ya?ml$/.test(name))
        .map((name) => join(dir, name));
    } catch {
      return [];
    }
  });

  it.each(files)('%s is a valid Trigger', (file) => {
    const { triggers, invalid } = parseTriggers(readFileSync(file, 'utf8'), file);
    expect(invalid).toEqual([]);
    expect(triggers.length).toBeGreaterThan(0);
  });
});

describe('the CRD', () => {
  it('in deploy/crds/ is the one the schema generates (run `npm run crd` after changing the schema)', () => {
    const committed = readFileSync(join(root, 'deploy/crds/triggers.triggerhub.io.yaml'), 'utf8');
    expect(committed).toBe(triggerCrdYaml());
  });

  it('is structural: every schema node has a type or keeps unknown fields, and no unions', () => {
    const text = triggerCrdYaml();
    expect(text).not.toMatch(/anyOf|oneOf|allOf|additionalProperties: false|\$schema/);
    expect(text).toMatch(/subresources:\n\s+status: \{\}/);
  });
});
