// What a delivery attempt leaves behind, shared by the dispatcher that makes it, the queue that stores it
// and the sensors that publish it (reply and error records).

/** The target's 2xx answer, for sensors that publish replies (a Kafka response topic, a NATS reply). */
export interface DeliveryResponse {
  status: number;
  contentType?: string;
  /** The response body, up to 1 MiB. */
  body: Buffer;
}

/** Written when a job is dead-lettered: what the last attempt saw. */
export interface LastAttempt {
  status?: number;
  /** The first KiB of the last response body, or the network error. */
  excerpt?: string;
  error: string;
  at: string;
}
