/**
 * Prometheus metrics of one API process, in its own registry (tests build several apps in
 * one process). They are served by main.ts on API_METRICS_PORT (127.0.0.1:9464 by default),
 * never on HTTP_PORT: the operator API faces the internet, and /metrics names routes, cache
 * behaviour and process details that are nobody else's business. Like the broker's and the
 * worker's metrics ports it is unauthenticated, so it is bound to loopback unless the
 * operator says otherwise (the compose file binds it inside the container network, where
 * Prometheus scrapes it; it is not published).
 *
 * Names follow Prometheus' conventions (tests/e2e/metrics-conventions.test.ts): counters end
 * in `_total`, durations are histograms in `_seconds`, a family has one type, and request
 * latency is labelled by route template (`/api/devices/:idOrName`), never by raw URL, so the
 * number of series stays bounded whatever clients request.
 */
import type { Server } from 'node:http';
import { registerProcessMetrics, serveMetricsHttp } from '@spms/queue';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** What the live-stream hub exposes to metrics (routes/stream/live.ts LiveHub). */
export interface LiveHubStats {
  readonly size: number;
  readonly delivered: number;
}

export interface ApiMetrics {
  registry: Registry;
  /** Answers of a cache: hit (fresh), stale (served while refreshing), miss (waited for the database). */
  cache: Counter<'cache' | 'result'>;
  /** Operator commands sent towards devices, by kind and where they went (live, queued, not_queued, failed). */
  commands: Counter<'kind' | 'result'>;
  /** Provisioning requests refused by a budget: address (requests per source address) or profile_creates. */
  provisionRefused: Counter<'budget'>;
  /** Counts the clients and delivered events of a live-stream hub. */
  trackHub(hub: LiveHubStats): void;
}

declare module 'fastify' {
  interface FastifyInstance {
    metrics: ApiMetrics;
  }
}

/** Routes whose "request" is a long-lived stream: their duration is not a latency. */
const STREAMING = /^\/api\/stream(\/|$)/;

export function createApiMetrics(opts: { processMetrics?: boolean } = {}): ApiMetrics {
  const registry = new Registry();
  if (opts.processMetrics !== false) registerProcessMetrics(registry, 'spms_api_');
  const hubs = new Set<LiveHubStats>();
  new Gauge({
    name: 'spms_api_sse_clients',
    help: 'Open live-stream (SSE) connections on this API process',
    registers: [registry],
    collect() {
      let n = 0;
      for (const h of hubs) n += h.size;
      this.set(n);
    },
  });
  new Counter({
    name: 'spms_api_live_events_sent_total',
    help: 'Live events written to SSE clients (one per event per client that may see it)',
    registers: [registry],
    collect() {
      let n = 0;
      for (const h of hubs) n += h.delivered;
      this.reset();
      this.inc(n);
    },
  });
  return {
    registry,
    cache: new Counter({
      name: 'spms_api_cache_requests_total',
      help: 'Requests answered from a per-process cache, by cache (status, status_compact) and result (hit, stale = served while a refresh runs, miss = waited for the database)',
      labelNames: ['cache', 'result'],
      registers: [registry],
    }),
    commands: new Counter({
      name: 'spms_api_device_commands_total',
      help: 'Operator commands sent towards devices, by kind (attributes, rpc) and result (live = a broker holding the session was told, queued = kept for the device, not_queued = no live session, failed = Redis unavailable)',
      labelNames: ['kind', 'result'],
      registers: [registry],
    }),
    provisionRefused: new Counter({
      name: 'spms_api_provision_refusals_total',
      help: 'Provisioning requests (POST /api/v1/provision) refused with 429 by a budget: address (PROVISION_REQUESTS_PER_IP_PER_MIN) or profile_creates (PROVISION_CREATES_PER_PROFILE_PER_MIN)',
      labelNames: ['budget'],
      registers: [registry],
    }),
    trackHub: (hub) => hubs.add(hub),
  };
}

let detached: ApiMetrics | undefined;

/**
 * The app's metrics, or (for route tests that register a route plugin without the metrics
 * plugin) a detached set nobody scrapes, so routes count unconditionally.
 */
export function metricsOf(app: FastifyInstance): ApiMetrics {
  if (app.hasDecorator('metrics')) return app.metrics;
  detached ??= createApiMetrics({ processMetrics: false });
  return detached;
}

export const metricsPlugin = fp(
  async (app: FastifyInstance) => {
    const metrics = createApiMetrics();
    const duration = new Histogram({
      name: 'spms_api_http_request_duration_seconds',
      help: 'Time to answer an HTTP request, by method, route template (unmatched = no route) and status class (2xx, 4xx, …); live streams are left out',
      labelNames: ['method', 'route', 'status_class'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [metrics.registry],
    });
    app.decorate('metrics', metrics);
    app.addHook('onResponse', async (req, reply) => {
      // The template, not req.url: ids and query strings would make a series per request.
      const route = req.routeOptions.url ?? 'unmatched';
      if (STREAMING.test(route)) return;
      duration.observe(
        { method: req.method, route, status_class: `${Math.floor(reply.statusCode / 100)}xx` },
        reply.elapsedTime / 1000,
      );
    });
  },
  { name: 'metrics' },
);

/** `/metrics` on its own HTTP server (API_METRICS_PORT/API_METRICS_HOST), nothing else. */
export function serveApiMetrics(registry: Registry, port: number, host: string): Promise<Server> {
  return serveMetricsHttp(registry, port, host);
}
