/**
 * GET /api/stream: Server-Sent Events of state changes (outage, device, voltage, alert
 * events from the worker), filtered by the caller's scope. EventSource cannot send headers,
 * so this route alone also accepts the key as `?access_token=`. Resumable with the
 * `Last-Event-ID` header (or `?lastEventId=`); `: ping` comments keep proxies from timing out.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { type LiveEvent, LiveHub, replaySince } from '../../services/live.js';
import { errorResponses, formatSchemaErrors } from '../error-schema.js';

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
  /** Receives the hub (tests inspect its client count). */
  onHub?: (hub: LiveHub) => void;
}

const resync = (reason: string) => `event: resync\ndata: ${JSON.stringify({ reason })}\n\n`;

const streamRoutes: FastifyPluginAsyncTypebox<StreamOptions> = async (app, opts) => {
  const heartbeatMs = opts.heartbeatMs ?? 15_000;
  const hub = new LiveHub(app.redis, app.pg, `${app.config.REDIS_PREFIX}:events`, (err) =>
    app.log.warn({ err: err.message }, 'live stream'),
  );
  opts.onHub?.(hub);
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
      const scope = req.principal?.scope ?? null;
      const header = req.headers['last-event-id'];
      const lastEventId = (typeof header === 'string' && header) || req.query.lastEventId;
      await hub.start();

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
      const frame = (e: LiveEvent) =>
        `id: ${e.id}\nevent: ${e.type}\ndata: ${JSON.stringify({ ...e, occurredAt: new Date(e.occurredAt).toISOString() })}\n\n`;

      // Subscribe before replaying so nothing published meanwhile is lost; hold live events
      // until the replay is written, then drop the ones the replay already sent.
      let held: LiveEvent[] | null = lastEventId ? [] : null;
      const seen = new Set<string>();
      const remove = hub.add({
        scope,
        send: (e) => (held ? held.push(e) : write(frame(e))),
        end: () => res.end(),
      });
      const heartbeat = setInterval(() => write(': ping\n\n'), heartbeatMs);
      heartbeat.unref();
      res.on('close', () => {
        closed = true;
        clearInterval(heartbeat);
        remove();
      });
      write(`retry: 3000\n: connected\n\n`);
      if (lastEventId && held) {
        try {
          const replay = await replaySince(app.pg, scope, lastEventId);
          if (replay === null) write(resync(`cannot resume after ${lastEventId}; reload the state`));
          else
            for (const e of replay) {
              seen.add(e.id);
              write(frame(e));
            }
        } catch (err) {
          req.log.warn({ err: (err as Error).message }, 'live stream replay failed');
          write(resync('replay failed; reload the state'));
        }
        const pending = held;
        held = null;
        for (const e of pending) if (!seen.has(e.id)) write(frame(e));
      }
    },
  );
};

export default streamRoutes;
