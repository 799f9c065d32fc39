// kafkajs client settings from a Kafka source spec. Secrets are resolved here, once, when the trigger
// starts: a missing secret is a Trigger error (TH_ERR_CONFIG), and no secret value is ever logged.

import type { KafkaConfig, logCreator, SASLOptions } from 'kafkajs';
import { logLevel } from 'kafkajs';
import type { Logger } from 'pino';
import { resolveSecret } from '../../src/trigger/secret-ref.ts';
import type { KafkaSpec } from './spec.ts';

export function kafkaConfig(spec: KafkaSpec, log: Logger): KafkaConfig {
  const config: KafkaConfig = {
    clientId: spec.clientId ?? 'trigger-hub',
    brokers: spec.brokers,
    logLevel: logLevel.WARN,
    logCreator: pinoLogCreator(log),
    // kafkajs's own retrier handles broker hiccups; a consumer crash after it gives up is restarted by the
    // consumer itself (restartOnFailure), so the source never stays down for good.
    retry: { initialRetryTime: 300, maxRetryTime: 30_000, retries: 8 },
    connectionTimeout: 10_000,
  };
  if (spec.tls) {
    const { tls } = spec;
    config.ssl = {
      rejectUnauthorized: !tls.insecureSkipVerify,
      ...(tls.ca ? { ca: [resolveSecret(tls.ca)] } : {}),
      ...(tls.cert ? { cert: resolveSecret(tls.cert) } : {}),
      ...(tls.key ? { key: resolveSecret(tls.key) } : {}),
      ...(tls.servername ? { servername: tls.servername } : {}),
    };
  }
  if (spec.sasl) {
    const { mechanism, username } = spec.sasl;
    config.sasl = { mechanism, username, password: resolveSecret(spec.sasl.password) } as SASLOptions;
  }
  return config;
}

/** kafkajs's log lines through the trigger's pino logger (so they carry the trigger's name). */
function pinoLogCreator(log: Logger): logCreator {
  return () =>
    ({ level, log: entry }) => {
      const { message, timestamp: _timestamp, logger: _logger, ...fields } = entry;
      const child = { kafkajs: true, ...fields };
      if (level === logLevel.ERROR) log.error(child, message);
      else if (level === logLevel.WARN) log.warn(child, message);
      else if (level === logLevel.INFO) log.info(child, message);
      else log.debug(child, message);
    };
}
