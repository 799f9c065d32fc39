// The shapes `trigger-hub convert` works with: a foreign manifest in, a Trigger document and the list of
// what could not be carried over out.

export interface ConvertOptions {
  /** Kafka bootstrap brokers: a Kubeless KafkaTrigger does not name them (its controller's KAFKA_BROKERS does). */
  kafkaBrokers: string[];
  /** NATS server: a Kubeless NATSTrigger does not name it (its controller's NATS_URL does). */
  natsUrl: string;
  /** Base URL of the Fission router, which routes /fission-function/<namespace>/<name> to a function. */
  fissionRouter: string;
  /** Port of a Kubeless function's Service (8080 unless the function overrides it). */
  kubelessPort: number;
}

export const defaultConvertOptions: ConvertOptions = {
  kafkaBrokers: ['kafka.kubeless:9092'],
  natsUrl: 'nats://nats.nats-io:4222',
  fissionRouter: 'http://router.fission',
  kubelessPort: 8080,
};

export interface ConvertWarning {
  /** Dotted path of the field in the source manifest, e.g. spec.respTopic. */
  field: string;
  message: string;
}

export interface Conversion {
  /** File (and document number) the manifest came from. */
  origin: string;
  /** apiVersion, kind and namespace/name of the source manifest. */
  from: string;
  /** The Trigger document, when the manifest could be converted (validated with the Trigger schema). */
  trigger?: Record<string, unknown>;
  /** namespace/name of the Trigger. */
  key?: string;
  warnings: ConvertWarning[];
  /** Why nothing was written for this manifest. */
  error?: string;
}

/** A Kubernetes object as read from YAML: only the envelope is trusted, the spec is looked at field by field. */
export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string; labels?: Record<string, string> };
  spec: Record<string, unknown>;
}
