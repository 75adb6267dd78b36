import { DatabaseUrl, Port, parseConfig, ServiceConfigProps, type Static, Type } from '@spms/config';
import { redisLayoutProblem } from '@spms/queue';
import { AccessConfigProps } from './plugins/access-config.js';

export const ApiConfigSchema = Type.Object({
  ...ServiceConfigProps,
  /** Heavy reads (reports, status, outage lists and exports, voltage) from a streaming replica; default DATABASE_URL. */
  DATABASE_READ_URL: Type.Optional(DatabaseUrl),
  HTTP_PORT: Port(8080),
  HTTP_HOST: Type.String({ default: '0.0.0.0' }),
  /** GET /metrics (Prometheus) on its own port, never on HTTP_PORT; unauthenticated, so loopback by default. */
  API_METRICS_PORT: Port(9464),
  API_METRICS_HOST: Type.String({ default: '127.0.0.1' }),
  /** Initial admin API key, so a fresh install is usable. Compared in constant time, never logged. */
  SPMS_ADMIN_API_KEY: Type.Optional(
    Type.String({ minLength: 16, description: 'at least 16 characters; generate one with `openssl rand -hex 24`' }),
  ),
  /** Largest device payload accepted on the HTTP device API (ThingsBoard: 64 KiB). */
  MAX_PAYLOAD_BYTES: Type.Integer({ default: 65536, minimum: 256 }),
  /** HTTP device API, the broker's limits (shared by all API processes through Redis): requests/s per device and burst. */
  DEVICE_MSG_RATE: Type.Integer({
    default: 50,
    minimum: 0,
    description: 'requests per second per device (0 = unlimited)',
  }),
  DEVICE_MSG_BURST: Type.Integer({ default: 500, minimum: 1, description: 'burst above DEVICE_MSG_RATE' }),
  /** HTTP device API: unknown tokens per source IP per minute before 429 (cached known tokens still pass). */
  AUTH_FAILURES_PER_IP: Type.Integer({
    default: 120,
    minimum: 0,
    description: 'failed tokens per IP per minute (0 = unlimited)',
  }),
  /**
   * Provisioning budgets (POST /api/v1/provision; the broker's settings of the same names, same
   * Redis keys: give both the same values). Per source address, every provisioning request:
   * 120 a minute is 7,200 an hour from one carrier-NAT address, more than a fleet that
   * provisions once per device needs. Per profile, devices created (allow_create): 100 a
   * minute, 6,000 an hour, whatever the addresses, so a leaked key cannot create devices by
   * the thousand a minute. Beyond: 429 with Retry-After and a FAILURE body. 0 = unlimited.
   */
  PROVISION_REQUESTS_PER_IP_PER_MIN: Type.Integer({
    default: 120,
    minimum: 0,
    description: 'provisioning requests per source IP per minute (0 = unlimited)',
  }),
  PROVISION_CREATES_PER_PROFILE_PER_MIN: Type.Integer({
    default: 100,
    minimum: 0,
    description: 'devices created by provisioning per profile per minute (0 = unlimited)',
  }),
  /**
   * Pub/sub wake-ups to other processes (device commands, RPC answers). They only shorten
   * delays: what crosses processes is in Redis and re-read every second. `false` leaves
   * everything to those sweeps (diagnostics; the cross-process tests prove it suffices).
   */
  PUBSUB_WAKEUPS: Type.Boolean({ default: true, description: 'true or false' }),
  /** HTTP device API: concurrent RPC long-polls (GET /api/v1/<token>/rpc) per device, per API process. */
  RPC_POLLS_PER_DEVICE: Type.Integer({ default: 2, minimum: 1, maximum: 100 }),
  /** Persistent RPC (docs/rpc.md): how often the sweeper times out, expires and retries them (0 = off in this process). */
  RPC_SWEEP_MS: Type.Integer({ default: 1000, minimum: 0, maximum: 600_000 }),
  /** Persistent RPC without expirationTime: it expires this long after it was created (default 1 day). */
  RPC_PERSISTENT_DEFAULT_TTL_MS: Type.Integer({ default: 86_400_000, minimum: 1000 }),
  /** Latest expirationTime accepted, from now (default 30 days). */
  RPC_PERSISTENT_MAX_TTL_MS: Type.Integer({ default: 2_592_000_000, minimum: 1000 }),
  /** Most retries a persistent RPC may ask for (ThingsBoard caps them too). */
  RPC_MAX_RETRIES: Type.Integer({ default: 10, minimum: 0, maximum: 1000 }),
  /** IANA zone of the fleet: local days for reports and 1 d voltage buckets, offsets in CSV times. */
  SPMS_TIME_ZONE: Type.String({ default: 'Asia/Colombo', minLength: 1 }),
  /** Reliability reports from the day rollups (default) or from raw outage rows (the older path, for comparison). */
  REPORTS_FROM: Type.Union([Type.Literal('rollup'), Type.Literal('day'), Type.Literal('raw')], {
    default: 'rollup',
    description: 'rollup (group rows where possible, else day rows), day (day rows only) or raw',
  }),
  /** Scheduled reliability report e-mails (report subscriptions): checked by every API process, sent once. */
  REPORT_SCHEDULE: Type.Boolean({ default: true, description: 'true or false' }),
  /** How often an API process looks for report periods owed (a report goes out within this after local midnight). */
  REPORT_CHECK_INTERVAL_MS: Type.Integer({ default: 60_000, minimum: 1000, description: 'milliseconds' }),
  /**
   * PostgreSQL connections each pool of this process (DATABASE_URL's, and DATABASE_READ_URL's
   * when set) opens at start-up and keeps open while idle (0: open on demand, close after
   * 10 s idle). A connection opened on demand delays the request waiting for it by its
   * connect (3–5 ms on loopback, idle 2-core machine) and a first query on a backend with
   * cold caches (~3 ms more): 4 concurrent GETs after 11 s idle took 7–14 ms, warm p50 4.7 ms.
   */
  API_DB_POOL_MIN: Type.Integer({ default: 2, minimum: 0, maximum: 10, description: 'connections (pool max 10)' }),
  /** GET /api/status answers from a per-scope cache this old at most (0 disables it). */
  STATUS_CACHE_MS: Type.Integer({ default: 1000, minimum: 0, maximum: 60000 }),
  /** GET /api/status/compact reads the worker-maintained device_status_rows (snapshot) or
   *  computes the view from the line tables on every read (compute: the old path, for comparison). */
  STATUS_FROM: Type.Union([Type.Literal('snapshot'), Type.Literal('compute')], { default: 'snapshot' }),
  /** How GET /api/status/compact reads its rows: 11 fields a device, the integers packed in one
   *  (packed), or 19 fields a device (rows: the old path, for comparison). The same answer. */
  STATUS_ENCODER: Type.Union([Type.Literal('packed'), Type.Literal('rows')], { default: 'packed' }),
  /** GET /api/stream: open streams per user or API key, per API process (429 beyond). */
  SSE_MAX_STREAMS: Type.Integer({ default: 5, minimum: 1, maximum: 1000 }),
  /** GET /api/stream: every open stream re-checks its session/key this often (ms). */
  SSE_RECHECK_MS: Type.Integer({ default: 5000, minimum: 100, maximum: 60000 }),
  /** POST /api/devices/import: most device rows in one request (413 beyond; split the file). */
  IMPORT_MAX_ROWS: Type.Integer({ default: 5000, minimum: 1, maximum: 100000 }),
  /** POST /api/devices/import: most supplied MQTT passwords (scrypt-hashed, ~10-40 ms each) in one request. */
  IMPORT_MAX_SUPPLIED_PASSWORDS: Type.Integer({ default: 1000, minimum: 0, maximum: 100000 }),
  /** POST /api/firmware: largest firmware image accepted (413 beyond; streamed into a large object, never held whole). */
  FIRMWARE_MAX_BYTES: Type.Integer({ default: 16 * 1024 * 1024, minimum: 1024, description: 'bytes' }),
  /** HTTP device API firmware chunks: largest `size` a device may ask for (400 beyond); the broker's setting of the same name. */
  FW_CHUNK_MAX_BYTES: Type.Integer({ minimum: 256, maximum: 1_048_576, default: 65_536, description: 'bytes' }),
  /**
   * HTTP firmware downloads take the brokers' download slots (Redis, REDIS_PREFIX): give the API
   * the brokers' values, so the cap holds across MQTT and HTTP (docs/firmware-protocol.md).
   */
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
  /** How long a chunk request waits for a slot before 503 with Retry-After. */
  FW_ADMISSION_WAIT_MS: Type.Integer({ minimum: 0, default: 30_000, description: 'milliseconds' }),
  /** HTTP device API: the broker's shared verified-credential cache (same secret and TTL as the brokers'; README). */
  DEVICE_AUTH_CACHE_SECRET: Type.Optional(
    Type.String({ minLength: 16, description: 'at least 16 characters; generate one with `openssl rand -hex 32`' }),
  ),
  DEVICE_AUTH_CACHE_TTL_SEC: Type.Integer({ minimum: 60, default: 86_400, description: 'seconds (at least 60)' }),
  /** Twilio auth token: verifies X-Twilio-Signature on POST /api/sms/status (same value as the worker's). */
  TWILIO_AUTH_TOKEN: Type.Optional(Type.String({ minLength: 8 })),
  /** Public URL Twilio posts receipts to (its origin is what Twilio signed; see @spms/sms README). */
  SMS_STATUS_CALLBACK_URL: Type.Optional(Type.String({ pattern: '^https?://' })),
  /** POST /api/sms/inbound: answers ("acknowledged 2 alerts") per phone number per hour at most. */
  SMS_REPLY_MAX_PER_HOUR: Type.Integer({ minimum: 0, maximum: 100, default: 5 }),
  ...AccessConfigProps,
});

export type ApiConfig = Static<typeof ApiConfigSchema>;

export function loadApiConfig(env: Record<string, string | undefined>): ApiConfig {
  // REDIS_URL's form (one server, Sentinel, Cluster) and, on Cluster, a hash-tagged REDIS_PREFIX.
  return parseConfig(ApiConfigSchema, env, (c) => redisLayoutProblem(c.REDIS_URL, c.REDIS_PREFIX));
}
