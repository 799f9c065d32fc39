/**
 * The project's own ports, never a service's default, so a developer's own Redis on 6379 (or Kafka on 9092, ...)
 * is never touched. Listening on 127.0.0.1 only.
 */
export const PORTS = {
  redis: 7301,
  redisCluster: [7311, 7312, 7313],
  nats: 7321,
  natsMonitor: 7322,
  kafka: 7331,
  kafkaController: 7332,
  kinesalite: 7341,
  minio: 7351,
  minioConsole: 7352,
  etcd: 7361,
  etcdPeer: 7362,
  kubeApiserver: 7363,
  kubeControllerManager: 7364,
  prometheus: 7371,
  prometheusAdapter: 7372,
  /** Not a service: the tests listen here for MinIO's webhook notifications. */
  minioWebhook: 7390,
} as const;
