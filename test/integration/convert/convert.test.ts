import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { convertManifest, convertText } from '../../../src/convert/convert.ts';
import type { Conversion } from '../../../src/convert/types.ts';
import { parseTriggers } from '../../../src/trigger/load.ts';

const root = resolve(import.meta.dirname, '../../..');
const cli = join(root, 'src/cli/main.ts');
const fixtures = join(root, 'fixtures/convert');
const fixtureFiles = ['kubeless', 'fission'].flatMap((dir) =>
  readdirSync(join(fixtures, dir))
    .filter((name) => name.endsWith('.yaml'))
    .map((name) => join(fixtures, dir, name)),
);

async function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [cli, ...args], { cwd: root });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

function convertFixture(relative: string): Conversion[] {
  const file = join(fixtures, relative);
  return convertText(readFileSync(file, 'utf8'), file);
}

function spec(conversion: Conversion | undefined): Record<string, Record<string, unknown>> {
  expect(conversion?.error).toBeUndefined();
  return conversion!.trigger!.spec as Record<string, Record<string, unknown>>;
}

function warned(conversion: Conversion | undefined, field: string): boolean {
  return conversion!.warnings.some((warning) => warning.field === field);
}

describe('trigger-hub convert', () => {
  it('turns every fixture manifest into a Trigger that `trigger-hub validate` accepts', async () => {
    const out = mkdtempSync(join(tmpdir(), 'th-convert-'));
    const converted = await run(['convert', ...fixtureFiles, '-o', out]);
    expect(converted.stderr).toContain('11 converted, 0 failed');
    expect(converted.code).toBe(0);
    const written = readdirSync(out).map((name) => join(out, name));
    expect(written).toHaveLength(11);
    const validated = await run(['validate', ...written, '-o', 'json']);
    expect(validated.code).toBe(0);
    const results = JSON.parse(validated.stdout) as Array<{ valid: boolean }>;
    expect(results).toHaveLength(11);
    expect(results.every((result) => result.valid)).toBe(true);
  }, 300_000);

  it('covers all nine Kubeless and Fission trigger kinds in the fixtures', () => {
    const kinds = new Set(
      fixtureFiles.flatMap((file) =>
        convertText(readFileSync(file, 'utf8'), file).map((c) => {
          const [apiVersion, kind] = c.from.split(' ');
          return `${apiVersion!.split('/')[0]} ${kind}`;
        }),
      ),
    );
    expect([...kinds].sort()).toEqual([
      'fission.io HTTPTrigger',
      'fission.io KubernetesWatchTrigger',
      'fission.io MessageQueueTrigger',
      'fission.io TimeTrigger',
      'kubeless.io CronJobTrigger',
      'kubeless.io HTTPTrigger',
      'kubeless.io KafkaTrigger',
      'kubeless.io KinesisTrigger',
      'kubeless.io NATSTrigger',
    ]);
  });

  it('lists the warnings in the report and as comments above each written Trigger', async () => {
    const file = join(fixtures, 'fission/message-queue-trigger.yaml');
    const report = await run(['convert', file, '--output', 'json']);
    expect(report.code).toBe(0);
    const conversions = JSON.parse(report.stdout) as Conversion[];
    const kafka = conversions.find((c) => c.key === 'default/kafkatest')!;
    expect(kafka.warnings.map((w) => w.field)).toEqual(
      expect.arrayContaining(['spec.respTopic', 'spec.errorTopic', 'spec.contentType', 'spec.secret']),
    );
    const yaml = await run(['convert', file]);
    expect(yaml.stdout).toContain('# WARNING spec.respTopic:');
    expect(yaml.stderr).toMatch(
      /warning spec\.errorTopic: failed deliveries go to the trigger's dead-letter queue/,
    );
    // The YAML on stdout, comments and all, is itself a valid Trigger file.
    const parsed = parseTriggers(yaml.stdout, 'stdout');
    expect(parsed.invalid).toEqual([]);
    expect(parsed.triggers.map((t) => t.trigger.metadata.name).sort()).toEqual([
      'jetstream-orders',
      'kafkatest',
    ]);
  }, 300_000);

  it('maps a Kubeless KafkaTrigger to a Kafka source delivering to the function Service with Kubeless headers', () => {
    const [conversion] = convertFixture('kubeless/kafka-trigger.yaml');
    expect(spec(conversion)).toMatchObject({
      source: { kafka: { brokers: ['kafka.kubeless:9092'], topics: ['s3-python'] } },
      target: {
        http: { url: 'http://pubsub-python.default.svc.cluster.local:8080/', compatibility: 'kubeless' },
      },
    });
    expect(conversion!.warnings.some((w) => w.message.includes('--kafka-brokers'))).toBe(true);
  });

  it('keeps a Kubeless CronJobTrigger payload as the event data and warns about nothing', () => {
    const [conversion] = convertFixture('kubeless/cronjob-trigger.yaml');
    expect(spec(conversion).source).toEqual({
      cron: { schedule: '*/5 * * * *', data: { report: 'nightly' } },
    });
    expect(conversion!.warnings).toEqual([]);
  });

  it('takes Kinesis credentials from the Kubeless secret and warns that the shard is not kept', () => {
    const [conversion] = convertFixture('kubeless/kinesis-trigger.yaml');
    expect(spec(conversion).source).toMatchObject({
      kinesis: {
        stream: 'clickstream',
        region: 'us-west-2',
        credentials: { accessKeyId: { secretKeyRef: { name: 'ec2', key: 'aws_access_key_id' } } },
      },
    });
    expect(warned(conversion, 'spec.shard')).toBe(true);
  });

  it('warns about every Kubeless HTTPTrigger ingress, TLS, CORS and basic-auth field', () => {
    const [conversion] = convertFixture('kubeless/http-trigger.yaml');
    expect(spec(conversion).source).toEqual({ webhook: { path: 'echo' } });
    for (const field of ['host-name', 'tls', 'tls-secret', 'gateway', 'cors-enable', 'basic-auth-secret'])
      expect(warned(conversion, `spec.${field}`), field).toBe(true);
  });

  it('maps a Fission KubernetesWatchTrigger type and label map to a kind and a label selector', () => {
    const [conversion] = convertFixture('fission/kubernetes-watch-trigger.yaml');
    expect(spec(conversion)).toMatchObject({
      source: {
        kubernetes: {
          apiVersion: 'v1',
          kind: 'Pod',
          namespace: 'default',
          labelSelector: 'app=web,tier=frontend',
        },
      },
      target: {
        http: { url: 'http://router.fission/fission-function/pod-logger', compatibility: 'fission' },
      },
    });
  });

  it('turns a Fission @every interval into epoch-aligned milliseconds and keeps the sub-path', () => {
    const [, every] = convertFixture('fission/time-trigger.yaml');
    expect(spec(every)).toMatchObject({
      source: { cron: { every: 90_000 } },
      target: { http: { url: 'http://router.fission/fission-function/jobs/cleanup/tick' } },
    });
    expect(warned(every, 'spec.method')).toBe(true);
  });

  it('carries maxRetries and the consumer group of a Fission MessageQueueTrigger', () => {
    const [kafka, jetstream] = convertFixture('fission/message-queue-trigger.yaml');
    expect(spec(kafka)).toMatchObject({
      source: { kafka: { groupId: 'my-group', topics: ['request-topic'] } },
      delivery: { retries: 3 },
    });
    expect(spec(jetstream).source).toMatchObject({
      nats: { jetstream: { stream: 'ORDERS', durable: 'fission_consumer', filterSubject: 'orders.created' } },
    });
    expect(warned(jetstream, 'spec.metadata.account')).toBe(true);
  });

  it('warns about a spec field it does not know instead of dropping it silently', () => {
    const conversion = convertManifest(
      {
        apiVersion: 'kubeless.io/v1beta1',
        kind: 'CronJobTrigger',
        metadata: { name: 'x' },
        spec: { 'function-name': 'f', schedule: '@daily', timezone: 'Europe/Paris' },
      },
      'inline',
    );
    expect(conversion.error).toBeUndefined();
    expect(conversion.warnings).toEqual([
      { field: 'spec.timezone', message: expect.stringContaining('not carried over') },
    ]);
  });

  it('refuses what it cannot convert, with the reason, and exits 1 while writing the rest', async () => {
    const failures = [
      convertManifest({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' } }, 'inline'),
      convertManifest(
        {
          apiVersion: 'fission.io/v1',
          kind: 'MessageQueueTrigger',
          metadata: { name: 'q' },
          spec: { functionref: { type: 'name', name: 'f' }, messageQueueType: 'rabbitmq', topic: 't' },
        },
        'inline',
      ),
      convertManifest(
        {
          apiVersion: 'kubeless.io/v1beta1',
          kind: 'KafkaTrigger',
          metadata: { name: 'k' },
          spec: { topic: 't', functionSelector: { matchLabels: { team: 'a' } } },
        },
        'inline',
      ),
      convertManifest(
        {
          apiVersion: 'fission.io/v1',
          kind: 'TimeTrigger',
          metadata: { name: 'bad-cron' },
          spec: { cron: 'every tuesday', functionref: { type: 'name', name: 'f' } },
        },
        'inline',
      ),
    ];
    expect(failures.map((f) => f.trigger)).toEqual([undefined, undefined, undefined, undefined]);
    expect(failures[0]!.error).toMatch(/not a Kubeless or Fission trigger/);
    expect(failures[1]!.error).toMatch(/rabbitmq.*has no Trigger Hub source/);
    expect(failures[2]!.error).toMatch(/matchLabels\.function/);
    expect(failures[3]!.error).toMatch(/spec\.source\.cron\.schedule: invalid cron expression/);

    const out = mkdtempSync(join(tmpdir(), 'th-convert-'));
    const mixed = join(out, 'mixed.yaml');
    writeFileSync(
      mixed,
      `${readFileSync(join(fixtures, 'kubeless/cronjob-trigger.yaml'), 'utf8')}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n`,
    );
    const result = await run(['convert', mixed, '-o', join(out, 'triggers')]);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/FAILED .*ConfigMap/);
    expect(readdirSync(join(out, 'triggers'))).toEqual(['default-scheduled-get-python.yaml']);
    // A usage error is not a failed conversion: exit 2.
    expect((await run(['convert'])).code).toBe(2);
  }, 300_000);
});
