/**
 * GET /api/stream: Server-Sent Events of state changes (outage, device, voltage, alert
 * events from the worker), filtered by the caller's scope. EventSource cannot send headers,
 * so this route alone also accepts the key as `?access_token=`. `: ping` comments keep
 * proxies from timing out.
 *
 * Each event's SSE id is its commit-ordered `seq`. Resuming with `Last-Event-ID` (or
 * `?lastEventId=`) sends every event after it that the caller may see, exactly once and in
 * order, then the live ones (routes/stream/live.ts explains why none can be skipped). When that
 * is impossible (more than MAX_REPLAY missed, unknown id) the stream sends `resync` (with the
 * current seq as its id): reload the state.
 *
 * Access is re-checked every SSE_RECHECK_MS and on every access-change notice: a stream whose
 * session, key or user is no longer valid gets `revoked` and ends; a changed scope applies
 * to the next event. At most SSE_MAX_STREAMS streams per user (all its sessions) or API key
 * per API process; beyond, 429.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { accessChannel, domainEventsChannel } from '@spms/contracts';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { AppError } from '../../core/errors.js';
import { metricsOf } from '../../plugins/metrics.js';
import { errorResponses, formatSchemaErrors } from '../error-schema.js';
import { principalKey, sameScope } from './access.js';
import { type LiveClient, type LiveEvent, LiveHub, MAX_REPLAY, readEventsAfter } from './live.js';
import { parseSeq, readSeqRange } from './live-events.js';

const StreamQuery = Type.Object(
  {
    access_token: Type.Optional(Type.String({ minLength: 1, description: 'API key, for EventSource (no headers)' })),
    lastEventId: Type.Optional(Type.String({ minLength: 1, maxLength: 300 })),
  },
  { additionalProperties: false },
);

/** A slow client whose unsent output grows beyond this is dropped (it can resume). */
const MAX_BUFFERED_BYTES = 1024 * 1024;

export interface StreamOptions {
  heartbeatMs?: number;
  /** How often the hub reads the outbox for events whose pub/sub message was lost. */
  pollMs?: number;
  /** How often every stream re-checks its principal (default SSE_RECHECK_MS). */
  recheckMs?: number;
  /** Receives the hub (tests inspect its client count). */
  onHub?: (hub: LiveHub) => void;
}

const frame = (e: LiveEvent) =>
  `id: ${e.seq}\nevent: ${e.type}\ndata: ${JSON.stringify({ ...e, occurredAt: new Date(e.occurredAt).toISOString() })}\n\n`;
const notice = (event: string, reason: string, seq?: number) =>
  `${seq === undefined ? '' : `id: ${seq}\n`}event: ${event}\ndata: ${JSON.stringify({ reason })}\n\n`;

const streamRoutes: FastifyPluginAsyncTypebox<StreamOptions> = async (app, opts) => {
  const heartbeatMs = opts.heartbeatMs ?? 15_000;
  const prefix = app.config.REDIS_PREFIX;
  const hub = new LiveHub(app.redis, app.pg, {
    channel: domainEventsChannel(prefix),
    accessChannel: accessChannel(prefix),
    pollMs: opts.pollMs ?? 2000,
    recheckMs: opts.recheckMs ?? app.config.SSE_RECHECK_MS,
    onError: (err) => app.log.warn({ err: err.message }, 'live stream'),
  });
  opts.onHub?.(hub);
  metricsOf(app).trackHub(hub);
  // SSE responses never go idle: end them before the server waits for open connections.
  app.addHook('preClose', async () => hub.endClients());
  app.addHook('onClose', () => hub.close());
  app.setSchemaErrorFormatter(formatSchemaErrors);

  app.addHook('onRequest', async (req: FastifyRequest, reply) => {
    const token = (req.query as { access_token?: unknown }).access_token;
    if (!req.headers.authorization && typeof token === 'string') req.headers.authorization = `Bearer ${token}`;
    await app.authenticate(req, reply);
  });

  app.get(
    '/',
    {
      schema: {
        querystring: StreamQuery,
        response: { 200: Type.String({ description: 'text/event-stream' }), ...errorResponses },
      },
    },
    async (req, reply) => {
      const header = req.headers['last-event-id'];
      const resumeFrom = (typeof header === 'string' && header) || req.query.lastEventId;
      await hub.start();
      const key = principalKey(req.principal);
      const max = app.config.SSE_MAX_STREAMS;
      if (hub.count(key) >= max)
        throw new AppError(
          'RATE_LIMITED',
          `at most ${max} open streams per user or API key (SSE_MAX_STREAMS): close another tab or client first`,
        );

      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        'x-accel-buffering': 'no', // nginx: do not buffer the stream
      });
      let closed = false;
      const write = (chunk: string) => {
        if (closed) return;
        res.write(chunk);
        if (res.writableLength > MAX_BUFFERED_BYTES) res.destroy();
      };
      /** Largest seq written: anything at or below it is a repeat. */
      let lastSent = 0;
      const send = (e: LiveEvent) => {
        if (e.seq <= lastSent) return;
        lastSent = e.seq;
        write(frame(e));
      };

      // Registered before the replay so nothing delivered meanwhile is lost: live events are
      // held until the replay is written, then the ones it already sent are dropped.
      let held: LiveEvent[] | null = resumeFrom ? [] : null;
      let checking = false;
      const client: LiveClient = {
        principalKey: key,
        scope: req.principal?.scope ?? null,
        send: (e) => (held ? held.push(e) : send(e)),
        resync: (reason, seq) => {
          lastSent = Math.max(lastSent, seq);
          write(notice('resync', reason, seq));
        },
        end: () => res.end(),
        recheck: () => {
          if (checking || closed) return;
          checking = true;
          app
            .authenticate(req, reply)
            .then(() => {
              const scope = req.principal?.scope ?? null;
              if (principalKey(req.principal) !== key) throw new AppError('UNAUTHORIZED', 'the principal changed');
              if (!sameScope(scope, client.scope)) client.scope = scope;
            })
            .catch((err: unknown) => {
              if (err instanceof AppError && err.code === 'UNAUTHORIZED') {
                write(notice('revoked', `${err.message}; the stream ends`));
                res.end();
              } else req.log.warn({ err: (err as Error).message }, 'live stream: could not re-check access');
            })
            .finally(() => {
              checking = false;
            });
        },
      };
      const remove = hub.add(client);
      const heartbeat = setInterval(() => write(': ping\n\n'), heartbeatMs);
      heartbeat.unref();
      res.on('close', () => {
        closed = true;
        clearInterval(heartbeat);
        remove();
      });
      write(`retry: 3000\n: connected\n\n`);
      if (!held) return;
      try {
        const replay = await replayAfter(resumeFrom as string, client.scope);
        if ('resync' in replay) write(notice('resync', replay.resync, replay.seq));
        else {
          lastSent = replay.cursor;
          for (const e of replay.events) send(e);
        }
      } catch (err) {
        req.log.warn({ err: (err as Error).message }, 'live stream replay failed');
        write(notice('resync', 'replay failed; reload the state'));
      }
      const pending = held;
      held = null;
      for (const e of pending) send(e);
    },
  );

  /** The events after a client's Last-Event-ID, or why it must reload the state instead. */
  async function replayAfter(
    from: string,
    scope: LiveClient['scope'],
  ): Promise<{ cursor: number; events: LiveEvent[] } | { resync: string; seq: number }> {
    const cursor = parseSeq(from);
    const range = await readSeqRange(app.pg);
    // Ids from before the upgrade (text), from another database, or pruned away.
    if (cursor === null || cursor > range.max || (range.min > 0 && cursor < range.min - 1))
      return { resync: `cannot resume after ${from}; reload the state`, seq: range.max };
    const events = await readEventsAfter(app.pg, cursor, scope, MAX_REPLAY + 1);
    if (events.length > MAX_REPLAY)
      return { resync: `more than ${MAX_REPLAY} events missed; reload the state`, seq: range.max };
    return { cursor, events };
  }
};

export default streamRoutes;
