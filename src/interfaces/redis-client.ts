import type { Cluster, Redis } from 'ioredis';

/** A single Redis or a Redis Cluster: every key of a trigger shares one hash tag, so both work. */
export type RedisClient = Redis | Cluster;
