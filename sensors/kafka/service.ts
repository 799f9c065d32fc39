import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run, which } from '../../scripts/services/lib/exec.ts';
import { aptEnsure, installLog } from '../../scripts/services/lib/install.ts';
import { formatDuration, say } from '../../scripts/services/lib/log.ts';
import { cacheDir, fixturesDir, serviceDataDir } from '../../scripts/services/lib/paths.ts';
import { kafkaApiVersionsOk, LOCALHOST } from '../../scripts/services/lib/probe.ts';
import { launch } from '../../scripts/services/lib/proc.ts';
import { renderFixture } from '../../scripts/services/lib/template.ts';
import type { Service } from '../../scripts/services/service.ts';

// This service's ports, in the project's own range (scripts/services/ports.ts says why).
const PORTS = {
  kafka: 7331,
  kafkaController: 7332,
} as const;

// Passed to Maven as -Dkafka.version, overriding the default in fixtures/services/kafka/pom.xml.
const KAFKA_VERSION = '4.1.1';
const home = join(cacheDir, `kafka-${KAFKA_VERSION}`);
const lib = join(home, 'lib');
const complete = join(home, '.complete');
const classpath = `${lib}/*`;

async function fetchJars(): Promise<void> {
  await aptEnsure('kafka', [
    { command: 'java', pkg: 'openjdk-17-jre-headless' },
    { command: 'mvn', pkg: 'maven' },
  ]);
  if (existsSync(complete)) return;
  const t0 = Date.now();
  say('kafka', `fetching Kafka ${KAFKA_VERSION} jars from Maven Central`);
  const partial = `${lib}.partial`;
  rmSync(partial, { recursive: true, force: true });
  // biome-ignore format: flag and value pairs read better side by side
  await run(
    which('mvn')!,
    [
      '-B',
      '-q',
      '-f', join(fixturesDir, 'kafka', 'pom.xml'),
      `-Dmaven.repo.local=${join(cacheDir, 'maven', 'repository')}`,
      `-Dkafka.version=${KAFKA_VERSION}`,
      'dependency:copy-dependencies',
      `-DoutputDirectory=${partial}`,
      '-DincludeScope=runtime',
    ],
    { scope: 'kafka', label: 'fetching Kafka jars', log: installLog('kafka') },
  );
  rmSync(lib, { recursive: true, force: true });
  renameSync(partial, lib);
  writeFileSync(complete, `${new Date().toISOString()}\n`);
  say('kafka', `fetched Kafka jars in ${formatDuration(Date.now() - t0)}`);
}

const java = (args: string[]): [string, string[]] => [which('java')!, ['-cp', classpath, ...args]];

/**
 * A cluster id as Kafka's `StorageTool random-uuid` makes one: 16 random bytes, base64url without padding,
 * never starting with "-" (it would read as a command-line flag). Made here to spare a JVM start.
 */
function randomClusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

/** KRaft storage must be formatted once, with a cluster id, before the first start. */
async function formatStorage(props: string, logDir: string): Promise<void> {
  if (existsSync(join(logDir, 'meta.properties'))) return;
  const clusterId = randomClusterId();
  say('kafka', `formatting KRaft storage (cluster id ${clusterId})`);
  // A one-shot tool: the client compiler alone starts faster.
  const [cmd, args] = java(['kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', props]);
  await run(cmd, ['-XX:TieredStopAtLevel=1', ...args], {
    scope: 'kafka',
    label: 'formatting Kafka storage',
    log: installLog('kafka'),
  });
}

const ready = () => kafkaApiVersionsOk(PORTS.kafka);

/**
 * One KRaft node (broker + controller) with its storage in `dir` (formatted on the first start); also used
 * by private instances (scripts/services/instance.ts).
 */
export async function startKafkaBroker(
  id: string,
  port: number,
  controllerPort: number,
  dir: string,
): Promise<void> {
  const logDir = join(dir, 'data');
  mkdirSync(logDir, { recursive: true });
  const props = join(dir, 'server.properties');
  writeFileSync(
    props,
    renderFixture('kafka/server.properties', {
      BROKER_PORT: port,
      CONTROLLER_PORT: controllerPort,
      LOG_DIR: logDir,
    }),
  );
  await formatStorage(props, logDir);
  const [cmd, args] = java(['kafka.Kafka', props]);
  const jvm = [
    '-Xms256m',
    '-Xmx512m',
    '-XX:+UseG1GC',
    '-XX:MaxGCPauseMillis=20',
    '-XX:+ExitOnOutOfMemoryError',
    '-Djava.awt.headless=true',
    `-Dlog4j.configuration=file:${join(fixturesDir, 'kafka', 'log4j.properties')}`,
  ];
  await launch({ id, command: cmd, args: [...jvm, ...args], port }, () => kafkaApiVersionsOk(port), 120_000);
}

export const kafka: Service = {
  name: 'kafka',
  summary: `Apache Kafka ${KAFKA_VERSION}, one KRaft node (broker + controller)`,
  dependsOn: [],
  procs: [{ id: 'kafka', port: PORTS.kafka, ports: [PORTS.kafka, PORTS.kafkaController] }],
  stopGraceMs: 30_000,
  install: fetchJars,
  start: () => startKafkaBroker('kafka', PORTS.kafka, PORTS.kafkaController, serviceDataDir('kafka')),
  ready,
  env: () => ({ TH_KAFKA_BROKERS: `${LOCALHOST}:${PORTS.kafka}` }),
  instance: {
    freePorts: 2,
    graceMs: 30_000,
    start: (id, [port, controllerPort], dir) => startKafkaBroker(id, port!, controllerPort!, dir),
    url: ([port]) => `${LOCALHOST}:${port}`,
  },
};
