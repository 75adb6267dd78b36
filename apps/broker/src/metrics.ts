/**
 * Prometheus metrics of one gateway instance, in their own registry (tests start several
 * gateways in one process). Refusals are counted by reason so an operator can tell a
 * misconfigured device (bad_credentials) from an overloaded backend (unavailable).
 * Names follow Prometheus' conventions (checked by tests/e2e/metrics-conventions.test.ts):
 * counters end in `_total`, durations are `_seconds`, and a family is one type only.
 */
import type { DeviceAuthStats } from '@spms/device-auth';
import { type DurabilityReport, registerProcessMetrics } from '@spms/queue';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export type RefusalReason =
  | 'bad_credentials'
  | 'identifier_rejected'
  | 'unavailable'
  | 'provisioning_unsupported'
  | 'max_connections'
  | 'max_pending'
  | 'connect_timeout'
  | 'gone_before_connack'
  | 'connect_rate'
  | 'auth_failure_rate'
  | 'provision_address_rate'
  | 'provision_create_rate'
  | 'verify_busy'
  | 'topic_not_allowed'
  | 'subscription_not_allowed'
  | 'payload_too_large'
  | 'invalid_payload'
  | 'device_rate'
  | 'enqueue_failed';

export interface GatewayMetrics {
  registry: Registry;
  connections: Gauge;
  connects: Counter<'result'>;
  messages: Counter<'kind'>;
  refused: Counter<'reason'>;
  connectivity: Counter<'event'>;
  enqueueLatency: Histogram;
  queueDepth: Gauge<'state'>;
  /** Sockets not yet answered with a CONNACK (client-guards.ts). */
  pending: Gauge;
  admissionQueue: Gauge;
  /** Operator commands (shared attributes, RPC) taken from Redis for a session here, by outcome. */
  commands: Counter<'kind' | 'result'>;
  /** Sessions here closed because the device connected to another broker process. */
  takeovers: Counter;
  claimFailures: Counter;
  /** Full garbage collections after connect storms (storm-gc.ts) and the time they paused. */
  stormCollections: Counter;
  stormCollectionSeconds: Counter;
}

export function createMetrics(opts: {
  connectedClients: () => number;
  ingestStats?: () => { pending: number; inFlight: number; failedMessages: number; lastBatchSize: number };
  queueDepth?: () => Promise<Record<string, number>>;
  durability?: () => DurabilityReport;
  authStats?: () => DeviceAuthStats;
}): GatewayMetrics {
  const registry = new Registry();
  // CPU, memory, event-loop lag, handles: the same process_* / nodejs_* families as the worker and API.
  registerProcessMetrics(registry, 'spms_broker_');
  const connections = new Gauge({
    name: 'spms_broker_connections',
    help: 'MQTT connections currently authenticated',
    registers: [registry],
    collect() {
      this.set(opts.connectedClients());
    },
  });
  const queueDepth = new Gauge({
    name: 'spms_ingest_queue_jobs',
    help: 'Jobs in the ingest queue by state (cached, refreshed at most every 5 s)',
    labelNames: ['state'],
    registers: [registry],
    async collect() {
      if (!opts.queueDepth) return;
      try {
        const counts = await opts.queueDepth();
        for (const [state, n] of Object.entries(counts)) this.set({ state }, n);
      } catch {
        // Redis down: /readyz says so; a scrape must still succeed.
      }
    },
  });
  registerProducerMetrics(registry, opts.ingestStats);
  registerDurabilityMetrics(registry, opts.durability);
  registerAuthMetrics(registry, opts.authStats);
  return {
    registry,
    connections,
    queueDepth,
    pending: new Gauge({
      name: 'spms_broker_pending_connections',
      help: 'Connections not yet answered with a CONNACK (before CONNECT or authenticating)',
      registers: [registry],
    }),
    admissionQueue: new Gauge({
      name: 'spms_broker_admission_queue_connections',
      help: 'Connections that sent their CONNECT and wait in line for MAX_CONNECTS_IN_PROGRESS',
      registers: [registry],
    }),
    connects: new Counter({
      name: 'spms_broker_connects_total',
      help: 'CONNECT attempts by result (accepted or the refusal reason)',
      labelNames: ['result'],
      registers: [registry],
    }),
    messages: new Counter({
      name: 'spms_broker_messages_accepted_total',
      help: 'Device messages durably enqueued, by kind',
      labelNames: ['kind'],
      registers: [registry],
    }),
    refused: new Counter({
      name: 'spms_broker_refusals_total',
      help: 'Refused CONNECTs, PUBLISHes and SUBSCRIBEs by reason',
      labelNames: ['reason'],
      registers: [registry],
    }),
    connectivity: new Counter({
      name: 'spms_broker_connectivity_events_total',
      help: 'Device connectivity events recorded, by event',
      labelNames: ['event'],
      registers: [registry],
    }),
    commands: new Counter({
      name: 'spms_broker_device_commands_total',
      help: 'Operator commands taken for a session on this broker, by kind (attributes, rpc) and result (delivered = published to the device, failed = publish failed, expired = past its expiry when taken; kind any)',
      labelNames: ['kind', 'result'],
      registers: [registry],
    }),
    takeovers: new Counter({
      name: 'spms_broker_session_takeovers_total',
      help: 'Sessions on this broker closed because the same device connected to another broker process',
      registers: [registry],
    }),
    claimFailures: new Counter({
      name: 'spms_broker_session_claim_failures_total',
      help: 'Session ownership claims Redis did not record (tried again at the next sweep; until then other processes cannot see the session)',
      registers: [registry],
    }),
    stormCollections: new Counter({
      name: 'spms_broker_storm_collections_total',
      help: 'Full, compacting garbage collections after a connect storm (at least STORM_GC_MIN_CONNECTS accepted within a minute, then 12 s below 1 % of that a second)',
      registers: [registry],
    }),
    stormCollectionSeconds: new Counter({
      name: 'spms_broker_storm_collection_seconds_total',
      help: 'Time the process was paused (stop-the-world) by those collections',
      registers: [registry],
    }),
    enqueueLatency: new Histogram({
      name: 'spms_broker_enqueue_seconds',
      help: 'Time from PUBLISH received to durable enqueue (what delays the PUBACK)',
      buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
  };
}

/**
 * The ingest producer's state. Counts of things now are gauges; failed messages only grow,
 * so they are a counter of their own (one family, one type).
 */
function registerProducerMetrics(
  registry: Registry,
  stats?: () => { pending: number; inFlight: number; failedMessages: number; lastBatchSize: number },
): void {
  const gauge = (name: string, help: string, read: (s: NonNullable<ReturnType<NonNullable<typeof stats>>>) => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        const st = stats?.();
        if (st) this.set(read(st));
      },
    });
  gauge('spms_broker_ingest_pending_messages', 'Messages waiting for a commit to the ingest queue', (s) => s.pending);
  gauge('spms_broker_ingest_in_flight_commits', 'Commits to the ingest queue awaiting Redis', (s) => s.inFlight);
  gauge(
    'spms_broker_ingest_last_batch_messages',
    'Messages in the last batch committed to the ingest queue',
    (s) => s.lastBatchSize,
  );
  new Counter({
    name: 'spms_broker_ingest_failed_messages_total',
    help: 'Messages whose enqueue failed (the device got no PUBACK and sends again)',
    registers: [registry],
    collect() {
      const st = stats?.();
      if (!st) return;
      this.reset();
      this.inc(st.failedMessages);
    },
  });
}

/** Whether an acknowledgement survives a Redis restart, and the Redis settings that decide it. */
function registerDurabilityMetrics(registry: Registry, durability?: () => DurabilityReport): void {
  if (!durability) return;
  new Gauge({
    name: 'spms_redis_durable',
    help: '1 when Redis keeps acknowledged messages durably (appendonly yes, appendfsync not no, maxmemory-policy noeviction), else 0; re-checked every 60 s',
    registers: [registry],
    collect() {
      this.set(durability().durable ? 1 : 0);
    },
  });
  new Gauge({
    name: 'spms_redis_persistence_info',
    help: "Redis' persistence settings as labels (unknown = could not be read); always 1",
    labelNames: ['appendonly', 'appendfsync', 'maxmemory_policy', 'source'],
    registers: [registry],
    collect() {
      const r = durability();
      this.reset();
      this.set(
        {
          appendonly: r.settings.appendonly ?? 'unknown',
          appendfsync: r.settings.appendfsync ?? 'unknown',
          maxmemory_policy: r.settings.maxmemoryPolicy ?? 'unknown',
          source: r.source,
        },
        1,
      );
    },
  });
}

/** Device authentication: the shared credential cache and the password-check queue (device-auth). */
function registerAuthMetrics(registry: Registry, stats?: () => DeviceAuthStats): void {
  if (!stats) return;
  const counter = (name: string, help: string, read: (s: DeviceAuthStats) => number) =>
    new Counter({
      name,
      help,
      registers: [registry],
      collect() {
        this.reset();
        this.inc(read(stats()));
      },
    });
  new Counter({
    name: 'spms_broker_auth_shared_cache_total',
    help: 'Look-ups in the verified-credential cache shared through Redis, by result (hit, miss, error = Redis unreachable, stored, stale = not stored because credentials changed meanwhile)',
    labelNames: ['result'],
    registers: [registry],
    collect() {
      const s = stats();
      this.reset();
      this.inc({ result: 'hit' }, s.sharedHits);
      this.inc({ result: 'miss' }, s.sharedMisses);
      this.inc({ result: 'error' }, s.sharedErrors);
      this.inc({ result: 'stored' }, s.sharedStored);
      this.inc({ result: 'stale' }, s.sharedStale);
    },
  });
  counter('spms_broker_auth_hashes_total', 'Password hashes computed (scrypt/sha256)', (s) => s.secretVerifications);
  counter('spms_broker_auth_db_queries_total', 'Credential look-ups sent to PostgreSQL', (s) => s.dbQueries);
  counter(
    'spms_broker_auth_invalidations_total',
    'Credential changes heard (Redis announcement or database poll) that dropped cached credentials of a device',
    (s) => s.invalidations,
  );
  counter(
    'spms_broker_auth_verify_queue_full_total',
    'Password checks refused because AUTH_VERIFY_QUEUE_MAX checks were already waiting (CONNACK 0x03)',
    (s) => s.verifyQueueFull,
  );
  counter(
    'spms_broker_auth_verify_abandoned_total',
    'Waiting password checks dropped because the device closed its connection',
    (s) => s.verifyAbandoned,
  );
  new Gauge({
    name: 'spms_broker_auth_verify_queue',
    help: 'Password checks now hashing (running) and waiting their turn (waiting)',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      const s = stats();
      this.set({ state: 'running' }, s.verifyRunning);
      this.set({ state: 'waiting' }, s.verifyQueued);
    },
  });
}
