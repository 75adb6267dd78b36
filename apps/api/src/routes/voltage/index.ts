/**
 * GET /api/devices/:idOrName/voltage (min/avg/max per bucket; JSON or streamed CSV) and
 * GET /api/devices/:idOrName/timeline (online/offline/unknown intervals).
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { localIso, sendCsv, wantsCsv } from '../../core/csv.js';
import { AppError } from '../../core/errors.js';
import { SqlParams, scopeCondition } from '../../core/scope.js';
import { errorResponses, formatSchemaErrors } from '../error-schema.js';
import { Iso } from '../status/schemas.js';
import { deviceTimeline } from './timeline.js';
import { autoBucket, type Bucket, voltagePage } from './voltage-query.js';

const Params = Type.Object({ idOrName: Type.String({ minLength: 1, maxLength: 200 }) });
const Range = {
  from: Type.Optional(Type.String({ format: 'date-time', description: 'default: 12 h before `to`' })),
  to: Type.Optional(Type.String({ format: 'date-time', description: 'default: now' })),
};
const VoltageQuery = Type.Object(
  {
    ...Range,
    bucket: Type.Enum(['auto', 'raw', '1m', '1h', '1d'], { default: 'auto' }),
    format: Type.Optional(Type.Enum(['json', 'csv'])),
  },
  { additionalProperties: false },
);
const Voltage = Type.Object({
  device: Type.Object({ id: Type.String(), name: Type.String() }),
  from: Iso,
  to: Iso,
  bucket: Type.String(),
  timeZone: Type.String(),
  points: Type.Array(
    Type.Object({ t: Iso, min: Type.Number(), avg: Type.Number(), max: Type.Number(), samples: Type.Integer() }),
  ),
});
const Timeline = Type.Object({
  device: Type.Object({ id: Type.String(), name: Type.String() }),
  from: Iso,
  to: Iso,
  intervals: Type.Array(
    Type.Object({
      from: Iso,
      to: Iso,
      state: Type.Union([Type.Literal('online'), Type.Literal('offline'), Type.Literal('unknown')]),
    }),
  ),
  events: Type.Array(Type.Object({ at: Iso, event: Type.String() })),
  truncated: Type.Boolean(),
});

/** JSON answers stop here; longer series need a coarser bucket or CSV. */
const MAX_JSON_POINTS = 20_000;

const voltageRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.addHook('onRequest', app.authenticate);
  app.setSchemaErrorFormatter(formatSchemaErrors);
  const tz = app.config.SPMS_TIME_ZONE;

  async function device(idOrName: string, scope: Parameters<typeof scopeCondition>[0]) {
    const p = new SqlParams();
    const match = p.add(idOrName);
    const res = await app.pgRead.query<{ id: string; name: string; created_at: Date }>(
      `SELECT d.id, d.name, d.created_at FROM devices d
        WHERE (d.id::text = ${match} OR d.name = ${match}) AND ${scopeCondition(scope, 'd', p)} LIMIT 1`,
      p.values,
    );
    const row = res.rows[0];
    if (!row) throw new AppError('NOT_FOUND', `no device "${idOrName}"`);
    return row;
  }
  function range(q: { from?: string; to?: string }) {
    const to = q.to ? new Date(q.to) : new Date();
    const from = q.from ? new Date(q.from) : new Date(to.getTime() - 12 * 3_600_000);
    if (!(to > from)) throw new AppError('BAD_REQUEST', 'invalid querystring: to must be after from');
    return { from, to };
  }

  app.get(
    '/:idOrName/voltage',
    { schema: { params: Params, querystring: VoltageQuery, response: { 200: Voltage, ...errorResponses } } },
    async (req, reply) => {
      const d = await device(req.params.idOrName, req.principal?.scope ?? null);
      const { from, to } = range(req.query);
      const bucket: Bucket =
        req.query.bucket === 'auto' ? autoBucket(from.getTime(), to.getTime()) : (req.query.bucket as Bucket);
      if (wantsCsv(req, req.query.format)) {
        async function* rows() {
          let after: { t: Date; k: string } | undefined;
          for (;;) {
            const page = await voltagePage(app.pgRead, d.id, bucket, { from, to, after }, 5000, tz);
            for (const p of page) yield [d.name, localIso(p.t, tz), p.min, p.avg, p.max, p.samples];
            const last = page[page.length - 1];
            if (page.length < 5000 || !last) return;
            after = { t: last.t, k: last.k };
          }
        }
        return sendCsv(reply, `voltage-${d.name}.csv`, ['device', 't', 'v_min', 'v_avg', 'v_max', 'samples'], rows());
      }
      const points = await voltagePage(app.pgRead, d.id, bucket, { from, to }, MAX_JSON_POINTS + 1, tz);
      if (points.length > MAX_JSON_POINTS)
        throw new AppError(
          'BAD_REQUEST',
          `more than ${MAX_JSON_POINTS} points: choose a coarser bucket or ?format=csv`,
        );
      return {
        device: { id: d.id, name: d.name },
        from: from.toISOString(),
        to: to.toISOString(),
        bucket,
        timeZone: tz,
        points: points.map((p) => ({ t: p.t.toISOString(), min: p.min, avg: p.avg, max: p.max, samples: p.samples })),
      };
    },
  );

  app.get(
    '/:idOrName/timeline',
    {
      schema: {
        params: Params,
        querystring: Type.Object(Range, { additionalProperties: false }),
        response: { 200: Timeline, ...errorResponses },
      },
    },
    async (req) => {
      const d = await device(req.params.idOrName, req.principal?.scope ?? null);
      const { from, to } = range(req.query);
      const t = await deviceTimeline(app.pgRead, { id: d.id, createdAt: d.created_at }, from, to);
      return {
        device: { id: d.id, name: d.name },
        from: from.toISOString(),
        to: to.toISOString(),
        intervals: t.intervals.map((i) => ({ from: i.from.toISOString(), to: i.to.toISOString(), state: i.state })),
        events: t.events.map((e) => ({ at: e.at.toISOString(), event: e.event })),
        truncated: t.truncated,
      };
    },
  );
};

export default voltageRoutes;
