/**
 * The project's own ports, never a service's default, so a developer's own Redis on 6379 (or Kafka on 9092, ...)
 * is never touched. Listening on 127.0.0.1 only. The services of sources declare theirs in their own folder
 * (sensors/<kind>/service.ts); test/unit/services.test.ts checks that no two services share a port.
 */
export const PORTS = {
  redis: 7301,
  redisCluster: [7311, 7312, 7313],
  etcd: 7361,
  etcdPeer: 7362,
  kubeApiserver: 7363,
  kubeControllerManager: 7364,
  prometheus: 7371,
  prometheusAdapter: 7372,
} as const;
