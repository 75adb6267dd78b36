/**
 * The broker's whole configuration: one TypeBox schema, parsed once at start-up
 * (`loadBrokerConfig(process.env)`); keys are the environment variable names.
 */
import { Port, parseConfig, ServiceConfigProps, type Static, Type } from '@spms/config';
import { redisLayoutProblem } from '@spms/queue';

const PositiveInt = (def: number, description: string) => Type.Integer({ minimum: 0, default: def, description });

export const BrokerConfigSchema = Type.Object({
  ...ServiceConfigProps,
  /** The fleet's firmware has 1883 compiled in; change it only to run beside another broker. */
  MQTT_PORT: Port(1883),
  MQTT_HOST: Type.String({ default: '0.0.0.0' }),
  /** TLS listener, enabled only when both MQTT_TLS_CERT and MQTT_TLS_KEY are set. */
  MQTTS_PORT: Port(8883),
  MQTT_TLS_CERT: Type.Optional(Type.String({ minLength: 1, description: 'path to a PEM certificate (chain)' })),
  MQTT_TLS_KEY: Type.Optional(Type.String({ minLength: 1, description: 'path to the PEM private key' })),
  /** MQTT over WebSocket (path /mqtt and /); disabled unless set. */
  MQTT_WS_PORT: Type.Optional(Type.Integer({ minimum: 0, maximum: 65535, description: 'a TCP port number' })),
  /**
   * Behind a TCP load balancer (HAProxy `send-proxy` / `send-proxy-v2`): every connection to
   * the MQTT and WebSocket ports must start with a PROXY protocol header giving the device's
   * address, and one without it is closed. Only for a broker reachable from the balancer alone.
   */
  MQTT_PROXY_PROTOCOL: Type.Boolean({ default: false, description: 'true or false' }),
  /** Health (/healthz, /readyz) and Prometheus (/metrics) for the broker process. */
  BROKER_HTTP_PORT: Port(9091),
  BROKER_HTTP_HOST: Type.String({ default: '0.0.0.0' }),
  /** Largest PUBLISH payload accepted (ThingsBoard: 65,536 bytes). */
  MAX_PAYLOAD_BYTES: Type.Integer({ default: 65536, minimum: 256 }),
  /** Concurrent device connections; further CONNECTs get 0x03 (server unavailable). */
  MAX_CONNECTIONS: PositiveInt(100_000, 'maximum concurrent MQTT connections (0 = unlimited)'),
  /**
   * A TCP or TLS connection that has not sent its whole CONNECT this long after its accept
   * (PROXY header and TLS handshake included) is closed; a WebSocket gets this bound for its
   * upgrade, then again for its CONNECT (client-guards.ts).
   */
  CONNECT_TIMEOUT_MS: Type.Integer({ minimum: 100, default: 10_000, description: 'milliseconds until CONNECT' }),
  /**
   * Connections not yet answered with a CONNACK (silent, authenticating, or still waiting for
   * a PROXY header, in the TLS handshake or before the WebSocket upgrade), all sources
   * together; beyond it new sockets are closed at once. No per-address cap: the fleet is
   * behind carrier-grade NAT.
   */
  MAX_PENDING_CONNECTIONS: PositiveInt(10_000, 'connections without CONNACK yet (0 = unlimited)'),
  /**
   * CONNECTs being authenticated at once per broker process; the next ones wait in arrival
   * order with their bytes unread (client-guards.ts). 0 = unlimited (every socket at once).
   */
  MAX_CONNECTS_IN_PROGRESS: PositiveInt(200, 'CONNECTs authenticated at once (0 = unlimited)'),
  /**
   * A connect storm: at least this many CONNECTs accepted within a minute. Once fewer than 1 %
   * of that many a second were answered for 5 s, the process runs one full, compacting garbage
   * collection (storm-gc.ts, a stop-the-world pause): a storm's garbage would otherwise stay
   * resident while the devices sit idle. 0 = never.
   */
  STORM_GC_MIN_CONNECTS: PositiveInt(
    1000,
    'CONNECTs accepted within a minute that make a storm worth one full GC after it (0 = off)',
  ),
  /**
   * New connections per source IP per minute. Off by default: the fleet is on 4G behind
   * carrier-grade NAT, where a whole region reconnecting after a blackout arrives from a few
   * addresses (ThingsBoard keeps per-IP limits off too). Abuse is bounded per credential and
   * per failed authentication instead.
   */
  CONNECT_RATE_PER_IP: PositiveInt(0, 'CONNECTs per source IP per minute (0 = unlimited)'),
  /**
   * Failed authentications per source IP per minute; beyond it, CONNECTs from that address
   * get 0x03 unless their credentials are already known good from the cache (no query, no
   * hash), so a misconfigured unit behind a carrier NAT does not lock its neighbours out.
   */
  AUTH_FAILURES_PER_IP: PositiveInt(120, 'failed CONNECTs per source IP per minute (0 = unlimited)'),
  /**
   * Provisioning budgets (provision.ts), in Redis under the API's keys for the settings of the
   * same names (give both the same values): every `/provision/request` per source address
   * (120 a minute: 7,200 an hour from one carrier-NAT address), and devices created per
   * `allow_create` profile (100 a minute, 6,000 an hour, all addresses together). Beyond:
   * FAILURE on `/provision/response`.
   */
  PROVISION_REQUESTS_PER_IP_PER_MIN: PositiveInt(120, 'provisioning requests per source IP per minute (0 = unlimited)'),
  PROVISION_CREATES_PER_PROFILE_PER_MIN: PositiveInt(
    100,
    'devices created by provisioning per profile per minute (0 = unlimited)',
  ),
  /** Sustained PUBLISH rate per device (messages/s) and the burst above it. */
  DEVICE_MSG_RATE: PositiveInt(50, 'messages per second per device (0 = unlimited)'),
  DEVICE_MSG_BURST: PositiveInt(500, 'burst allowance above DEVICE_MSG_RATE (a reconnect backlog)'),
  /** At most one coalesced "activity" (PINGREQ) message per device per this many seconds. */
  PING_ACTIVITY_INTERVAL_SEC: PositiveInt(60, 'seconds between activity messages from PINGREQ'),
  /**
   * What a malformed PUBLISH gets. `disconnect` is ThingsBoard's default for MQTT 3.1.1
   * (its sendAckOnValidationException=false): there is no negative PUBACK in 3.1.1.
   * `ack` acknowledges and drops it (ThingsBoard's opt-in), so a device that keeps
   * re-sending the same bad message is not stuck in a reconnect loop.
   */
  INVALID_PAYLOAD_ACTION: Type.Union([Type.Literal('disconnect'), Type.Literal('ack')], {
    default: 'disconnect',
    description: 'disconnect or ack',
  }),
  /** Group commit of the ingest producer: batch size and the longest a message waits. */
  INGEST_MAX_BATCH: PositiveInt(500, 'messages per ingest job'),
  INGEST_MAX_DELAY_MS: PositiveInt(5, 'milliseconds a message waits for its batch'),
  INGEST_ENQUEUE_TIMEOUT_MS: PositiveInt(
    5000,
    'milliseconds a commit sent to Redis may take before its messages count as failed',
  ),
  /**
   * Pub/sub wake-ups to other processes (command delivery, takeovers, RPC answers). They only
   * shorten delays: what crosses processes is in Redis and re-read every second. `false`
   * leaves everything to those sweeps (diagnostics; the cross-process tests prove it suffices).
   */
  PUBSUB_WAKEUPS: Type.Boolean({ default: true, description: 'true or false' }),
  /**
   * How often every session of this process is compared with its owner record in Redis, a
   * backstop for records lost without the connection dropping, as in a Redis Cluster failover
   * (a dropped connection triggers the comparison at once; session-claims.ts).
   */
  SESSION_FULL_CHECK_MS: PositiveInt(60_000, 'milliseconds between full session-ownership checks'),
  /** How long authenticated credentials stay cached (revocations are pushed, not waited for). */
  AUTH_CACHE_TTL_MS: PositiveInt(300_000, 'credential cache lifetime in milliseconds'),
  /**
   * Key of the verified-credential cache shared by all broker and API processes in Redis
   * (HMAC-SHA256 of the presented credentials; Redis never holds it). Same value in every
   * process. Unset: verified credentials are cached per process only.
   */
  DEVICE_AUTH_CACHE_SECRET: Type.Optional(
    Type.String({ minLength: 16, description: 'at least 16 characters; generate one with `openssl rand -hex 32`' }),
  ),
  /** How long a verified credential stays in the shared cache: longer than the blackouts devices come back from. */
  DEVICE_AUTH_CACHE_TTL_SEC: Type.Integer({ minimum: 60, default: 86_400, description: 'seconds (at least 60)' }),
  /**
   * Password hashes (scrypt) computed at once per broker process; the others wait in arrival
   * order. Kept below UV_THREADPOOL_SIZE (default 4) and the cores, so hashing never takes
   * every thread or the core that answers cached devices.
   */
  AUTH_VERIFY_CONCURRENCY: Type.Integer({ minimum: 1, maximum: 64, default: 1, description: 'hashes at once' }),
  /** libuv's thread pool size, read by Node itself at start; here only to keep AUTH_VERIFY_CONCURRENCY below it. */
  UV_THREADPOOL_SIZE: Type.Integer({ minimum: 1, maximum: 1024, default: 4, description: 'threads' }),
  /** Password checks allowed to wait; beyond, CONNACK 0x03 at once (the device retries) instead of a longer wait. */
  AUTH_VERIFY_QUEUE_MAX: Type.Integer({ minimum: 0, default: 1000, description: 'waiting password checks' }),
  /**
   * …and only while the expected wait (waiting checks × recent time per check) stays below
   * this: beyond, CONNACK 0x03 at once rather than an answer after the device gave up
   * (MQTT clients commonly give up after 10–30 s). 0 = only AUTH_VERIFY_QUEUE_MAX.
   */
  AUTH_VERIFY_MAX_WAIT_MS: Type.Integer({ minimum: 0, default: 10_000, description: 'milliseconds (0 = off)' }),
  /**
   * Firmware over the air (firmware.ts, docs/firmware-protocol.md). A chunk size asked for
   * above FW_CHUNK_MAX_BYTES is answered PAYLOAD_TOO_LARGE on v2/fw/error (ThingsBoard's answer).
   */
  FW_CHUNK_MAX_BYTES: Type.Integer({ minimum: 256, maximum: 1_048_576, default: 65_536, description: 'bytes' }),
  /** Devices downloading at once across ALL broker processes (the cabinets share 4G links). */
  FW_MAX_CONCURRENT_DOWNLOADS: Type.Integer({ minimum: 1, default: 100, description: 'devices' }),
  /** A downloading device that asks for no chunk this long frees its slot. */
  FW_DOWNLOAD_IDLE_MS: Type.Integer({ minimum: 100, default: 60_000, description: 'milliseconds' }),
  /**
   * The longest a device holds a download slot; then it queues again behind the devices waiting
   * (and resumes at the chunk it asks for). 30 min: a 16 MiB image (FIRMWARE_MAX_BYTES) at
   * 9.3 KB/s, a 1 MiB one at 0.6 KB/s. Without it, devices re-asking a chunk inside
   * FW_DOWNLOAD_IDLE_MS would keep their slots for ever. Give the brokers and the API the same value.
   */
  FW_SLOT_MAX_MS: Type.Integer({ minimum: 1000, default: 1_800_000, description: 'milliseconds' }),
  /** How long a chunk request not admitted is held for a slot before it goes unanswered (the device retries). */
  FW_ADMISSION_WAIT_MS: Type.Integer({ minimum: 0, default: 30_000, description: 'milliseconds' }),
  /** Recently served chunks kept in memory per broker process (many devices fetch the same ones). */
  FW_CHUNK_CACHE_BYTES: PositiveInt(16 * 1024 * 1024, 'bytes of firmware chunks cached (0 = off)'),
});

export type BrokerConfig = Static<typeof BrokerConfigSchema>;

export function loadBrokerConfig(env: Record<string, string | undefined>): BrokerConfig {
  // REDIS_URL's form (one server, Sentinel, Cluster) and, on Cluster, a hash-tagged REDIS_PREFIX.
  return parseConfig(BrokerConfigSchema, env, (c) => redisLayoutProblem(c.REDIS_URL, c.REDIS_PREFIX));
}
