/**
 * GET /api/status/compact: the fleet view in compact form (routes/status/status-compact.ts), with
 * a strong ETag (304 on If-None-Match), and `?since=<cursor>` for the devices changed since
 * an earlier answer. The rows are read from the worker-maintained snapshot (STATUS_FROM
 * snapshot, default: a read, not a recomputation) or computed (compute). The encoded body is
 * cached per scope (STATUS_CACHE_MS, shared misses, stale-while-revalidate), serialized,
 * hashed, gzipped and brotli-compressed once, before it is served: a cached answer (or a 304)
 * is headers and a prepared buffer, with no serialization, compression or database read in
 * the request. Its ETag is `"<seq>-<digest>"`: the event seq the rows reflect,
 * and a digest of the facts (activity times and voltages change without events), the same
 * in every API process for the same rows.
 *
 * When an entry's time is up, a fingerprint of the view's rows (loadViewFingerprint, ~20 ms)
 * decides whether to rebuild it (~200 ms of reading and encoding): unchanged, the entry is
 * kept with its body, its compressed bodies and its ETag. Every API process keeps its own
 * entries; they agree because the fingerprint and the ETag come from the shared database.
 */
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { brotliCompress, constants, gzip } from 'node:zlib';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from 'typebox';
import { AppError } from '../../core/errors.js';
import type { Scope } from '../../core/principal.js';
import { lazyRedactingChild } from '../../plugins/log-redaction.js';
import { metricsOf } from '../../plugins/metrics.js';
import { errorResponses, formatSchemaErrors } from '../error-schema.js';
import { readSeqRange } from '../stream/live-events.js';
import { statusCacheKey } from './status.js';
import {
  COMPACT_COLUMNS,
  COMPACT_FORMAT,
  type CompactRow,
  type CompactSnapshot,
  compactId,
  loadCompactSnapshot,
  nextTurn,
  SLICE,
} from './status-compact.js';
import { compactCursor, loadChangedDeviceIds, parseCompactCursor } from './status-compact-delta.js';
import { CompactAnswer } from './status-compact-schema.js';
import { loadViewFingerprint } from './status-compact-source.js';

/** The prepared answer of one encoding: headers and body, written as they are. */
interface Prepared {
  headers: Record<string, string>;
  body: Buffer;
}

interface Entry {
  at: number;
  snap: CompactSnapshot;
  cursor: string;
  etag: string;
  /** the full answer's JSON (UTF-8) */
  body: Buffer;
  /** loadViewFingerprint() read before the rows (snapshot source only) */
  fp?: string;
  /** the full answer per content encoding, compressed once per entry (both made with a cached
   *  entry, off the event loop; an uncached one compresses only what its client asks for) */
  prepared: Map<Encoding, Promise<Prepared>>;
  byId?: Map<string, CompactRow>;
  /** Devices changed after a cursor seq up to this snapshot: clients share cursors (they
   *  got them from the same snapshot), so each is read once per snapshot. */
  changedAfter?: Map<number, Promise<Set<string>>>;
}

type Encoding = 'br' | 'gzip' | 'identity';
/** What the client accepts, brotli first (about 20 % smaller than gzip here). */
const encodingOf = (accepted: string | undefined): Encoding =>
  !accepted ? 'identity' : /\bbr\b/.test(accepted) ? 'br' : /\bgzip\b/.test(accepted) ? 'gzip' : 'identity';
const JSON_TYPE = 'application/json; charset=utf-8';

const gzipAsync = promisify(gzip);
const brotliAsync = promisify(brotliCompress);
const MAX_STALE_MS = 10_000;

export const CompactQuery = Type.Object(
  {
    since: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 40,
        description: 'cursor of an earlier compact answer: send changes only',
      }),
    ),
  },
  { additionalProperties: false },
);

async function buildEntry(snap: CompactSnapshot, scopeKey: string): Promise<Entry> {
  const cursor = compactCursor(snap, scopeKey);
  // Everything but generatedAt: the same facts for the same scope give the same tag. The rows
  // are serialized a slice at a time (see SLICE), the rest in one go.
  const head = JSON.stringify({
    format: COMPACT_FORMAT,
    cursor,
    base: snap.base,
    columns: COMPACT_COLUMNS,
    counters: snap.counters,
    strings: snap.strings,
    lineSets: snap.lineSets,
  });
  const parts: string[] = [];
  for (let i = 0; i < snap.rows.length; i += SLICE) {
    if (i > 0) await nextTurn();
    parts.push(JSON.stringify(snap.rows.slice(i, i + SLICE)).slice(1, -1));
  }
  const facts = `${head.slice(0, -1)},"rows":[${parts.join(',')}]}`;
  const digest = createHash('sha256').update(scopeKey).update('\n').update(facts).digest('base64url');
  const etag = `"${snap.seq}-${digest.slice(0, 22)}"`;
  const body = Buffer.from(`{"generatedAt":${snap.generatedAt},${facts.slice(1)}`);
  return { at: Date.now(), snap, cursor, etag, body, prepared: new Map() };
}

/** The entry's full answer in one encoding, compressed on first use (and kept). */
function prepared(e: Entry, encoding: Encoding): Promise<Prepared> {
  let p = e.prepared.get(encoding);
  if (!p) {
    const headers: Record<string, string> = {
      'content-type': JSON_TYPE,
      'cache-control': 'private, no-cache',
      vary: 'accept-encoding',
      etag: e.etag,
    };
    if (encoding !== 'identity') headers['content-encoding'] = encoding;
    const body =
      encoding === 'br'
        ? brotliAsync(e.body, {
            params: { [constants.BROTLI_PARAM_QUALITY]: 4, [constants.BROTLI_PARAM_SIZE_HINT]: e.body.length },
          })
        : encoding === 'gzip'
          ? gzipAsync(e.body, { level: constants.Z_BEST_SPEED })
          : Promise.resolve(e.body);
    p = body.then((b) => ({ headers, body: b }));
    p.catch(() => e.prepared.delete(encoding)); // the request that awaits it answers the error
    e.prepared.set(encoding, p);
  }
  return p;
}

const matches = (header: string | undefined, etag: string) =>
  !!header && (header.trim() === '*' || header.split(',').some((t) => t.trim().replace(/^W\//, '') === etag));

export const compactStatusRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.addHook('onRequest', app.authenticate);
  app.setSchemaErrorFormatter(formatSchemaErrors);
  const ttl = app.config.STATUS_CACHE_MS;
  const source = app.config.STATUS_FROM;
  const encoder = app.config.STATUS_ENCODER;
  const cache = new Map<string, Entry>();
  const inflight = new Map<string, Promise<Entry>>();

  function refresh(key: string, scope: Scope | null): Promise<Entry> {
    let p = inflight.get(key);
    if (!p) {
      const old = cache.get(key);
      p = (async () => {
        // (the computed source has no fingerprint: it reads other tables; rebuilt every time)
        const fp = source === 'snapshot' && ttl > 0 ? await loadViewFingerprint(app.pg, scope) : undefined;
        if (old && fp !== undefined && old.fp === fp && cache.get(key) === old) {
          metricsOf(app).cache.inc({ cache: 'status_compact', result: 'unchanged' });
          old.at = Date.now();
          return old;
        }
        const entry = await buildEntry(await loadCompactSnapshot(app.pg, scope, source, encoder), key);
        entry.fp = fp;
        if (ttl > 0) {
          // Both compressed (off the event loop) before the entry is served: a cached answer is
          // a buffer write, and while this runs the clients still get the entry it replaces.
          await Promise.all([prepared(entry, 'gzip'), prepared(entry, 'br')]);
          if (cache.size > 1000) cache.clear();
          cache.set(key, entry);
        }
        return entry;
      })().finally(() => inflight.delete(key));
      inflight.set(key, p);
    }
    return p;
  }

  async function current(req: FastifyRequest, key: string, scope: Scope | null): Promise<Entry> {
    const age = (e: Entry | undefined) => (e ? Date.now() - e.at : Number.POSITIVE_INFINITY);
    const entry = cache.get(key);
    const count = (result: string) => metricsOf(app).cache.inc({ cache: 'status_compact', result });
    if (age(entry) < ttl) {
      count('hit');
      return entry as Entry;
    }
    if (entry && age(entry) < ttl + MAX_STALE_MS) {
      count('stale');
      refresh(key, scope).catch((err: Error) => req.log.error({ err }, 'compact status refresh failed'));
      return entry;
    }
    count('miss');
    return refresh(key, scope);
  }

  /** The event log's seq range, one read shared by the requests that arrive while it runs
   *  (a delta answer per request would otherwise be a database round trip each). */
  let rangeRead: Promise<{ min: number; max: number }> | undefined;
  function seqRange(): Promise<{ min: number; max: number }> {
    if (!rangeRead) {
      rangeRead = readSeqRange(app.pg);
      const clear = () => {
        rangeRead = undefined;
      };
      rangeRead.then(clear, clear);
    }
    return rangeRead;
  }

  async function delta(e: Entry, since: string, reply: FastifyReply) {
    const cur = parseCompactCursor(since);
    if (!cur)
      throw new AppError('BAD_REQUEST', 'since: not a cursor of this API (use the "cursor" of a compact answer)');
    const base: Pick<CompactAnswer, 'format' | 'generatedAt'> = {
      format: COMPACT_FORMAT,
      generatedAt: e.snap.generatedAt,
    };
    // Serialized here, not by Fastify's schema serializer (the tuple rows are plain JSON).
    const send = (answer: CompactAnswer) => reply.type(JSON_TYPE).send(JSON.stringify(answer));
    const reload = (reason: string) => send({ ...base, reload: true, reason });
    if (cur.tag !== e.cursor.slice(e.cursor.indexOf('.') + 1))
      return reload('devices were added, edited, deleted or moved, or your access changed: reload the compact status');
    let range = await seqRange();
    // A cursor past a read that began before this request (from a newer snapshot of another
    // process): read again before calling it ahead of the log.
    if (cur.seq > range.max) range = await readSeqRange(app.pg);
    if (cur.seq > range.max) return reload('the cursor is ahead of the event log (database restored?): reload');
    if (range.min > cur.seq + 1) return reload('events after the cursor are no longer kept: reload');
    let ids = new Set<string>();
    if (cur.seq < e.snap.seq) {
      e.changedAfter ??= new Map();
      let p = e.changedAfter.get(cur.seq);
      if (!p) {
        if (e.changedAfter.size > 100) e.changedAfter.clear();
        p = loadChangedDeviceIds(app.pg, cur.seq, e.snap.seq);
        p.catch(() => e.changedAfter?.delete(cur.seq));
        e.changedAfter.set(cur.seq, p);
      }
      ids = await p;
    }
    if (!e.byId) e.byId = new Map(e.snap.rows.map((r) => [r[0], r]));
    const changed: CompactRow[] = [];
    for (const id of ids) {
      const row = e.byId.get(compactId(id));
      if (row) changed.push(row); // events of devices outside the scope are never named
    }
    return send({
      ...base,
      // A cursor newer than this snapshot (another API process, or a rebuild in between) stays.
      cursor: cur.seq > e.snap.seq ? since : e.cursor,
      base: e.snap.base,
      columns: COMPACT_COLUMNS,
      counters: e.snap.counters,
      strings: e.snap.strings,
      lineSets: e.snap.lineSets,
      changed,
    });
  }

  app.get(
    '/',
    {
      schema: { querystring: CompactQuery, response: { 200: CompactAnswer, ...errorResponses } },
      // the request logger is made only if the request writes a line (most cached answers do not)
      childLoggerFactory: lazyRedactingChild,
    },
    async (req, reply) => {
      const scope = req.principal?.scope ?? null;
      const key = statusCacheKey(scope, {});
      const e = await current(req, key, scope);
      if (req.query.since !== undefined) {
        const r = (reply as FastifyReply)
          .header('cache-control', 'private, no-cache')
          .header('vary', 'accept-encoding');
        return delta(e, req.query.since, r);
      }
      if (matches(req.headers['if-none-match'], e.etag))
        return (reply as FastifyReply)
          .code(304)
          .headers({ etag: e.etag, 'cache-control': 'private, no-cache', vary: 'accept-encoding' })
          .send();
      // A prepared buffer with its headers: nothing serialized or compressed per request.
      const answer = await prepared(e, encodingOf(req.headers['accept-encoding']));
      return (reply as FastifyReply).headers(answer.headers).send(answer.body);
    },
  );
};
