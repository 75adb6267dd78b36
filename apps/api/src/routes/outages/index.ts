/** GET /api/outages: filtered, cursor-paginated; `?format=csv` / `Accept: text/csv` streams every match. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { localIso, sendCsv, wantsCsv } from '../../core/csv.js';
import { errorResponses, formatSchemaErrors } from '../error-schema.js';
import { Iso, Nullable } from '../status/schemas.js';
import { listOutages, type OutageFilters } from './outages-query.js';

const Window = Nullable(Type.Object({ from: Iso, to: Iso }));

const Outage = Type.Object({
  id: Type.String(),
  device: Type.Object({ id: Type.String(), name: Type.String() }),
  region: Nullable(Type.String()),
  customer: Nullable(Type.String()),
  line: Type.Integer(),
  lineLabel: Nullable(Type.String()),
  startedAt: Iso,
  endedAt: Nullable(Iso),
  durationMs: Nullable(Type.Number({ description: 'known duration (offline time excluded); null while open' })),
  unknownMs: Type.Number({ description: 'offline time inside the outage, excluded from durationMs' }),
  class: Type.Union([Type.Literal('momentary'), Type.Literal('sustained'), Type.Literal('pending')]),
  wholeSite: Type.Boolean(),
  utilityFeed: Type.Boolean(),
  planned: Type.Boolean(),
  source: Type.Union([Type.Literal('live'), Type.Literal('import')], {
    description:
      "'import': started by history imported through POST /api/devices/{idOrName}/telemetry (raised no alert)",
  }),
  startWindow: Window,
  endWindow: Window,
});

export const OutagesQuery = Type.Object(
  {
    device: Type.Optional(Type.String({ minLength: 1, description: 'device id or name' })),
    region: Type.Optional(Type.String({ minLength: 1 })),
    customer: Type.Optional(Type.String({ minLength: 1 })),
    line: Type.Optional(Type.Integer({ minimum: 1, maximum: 8 })),
    from: Type.Optional(
      Type.String({ format: 'date-time', description: 'outages still running at or after this instant' }),
    ),
    to: Type.Optional(Type.String({ format: 'date-time', description: 'outages that began before this instant' })),
    status: Type.Optional(Type.Enum(['open', 'closed'])),
    class: Type.Optional(Type.Enum(['momentary', 'sustained', 'pending'])),
    wholeSite: Type.Optional(Type.Boolean()),
    utilityFeed: Type.Optional(Type.Boolean()),
    planned: Type.Optional(Type.Boolean()),
    source: Type.Optional(Type.Enum(['live', 'import'])),
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }),
    format: Type.Optional(Type.Enum(['json', 'csv'])),
  },
  { additionalProperties: false },
);

const OutagePage = Type.Object({ items: Type.Array(Outage), nextCursor: Nullable(Type.String()) });

const CSV_HEADER = [
  'id',
  'device_id',
  'device',
  'region',
  'customer',
  'line',
  'line_label',
  'started_at',
  'ended_at',
  'duration_ms',
  'unknown_ms',
  'class',
  'whole_site',
  'utility_feed',
  'planned',
  'start_window_from',
  'start_window_to',
  'end_window_from',
  'end_window_to',
  'source',
];

const outageRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.addHook('onRequest', app.authenticate);
  app.setSchemaErrorFormatter(formatSchemaErrors);
  const tz = app.config.SPMS_TIME_ZONE;
  app.get(
    '/',
    { schema: { querystring: OutagesQuery, response: { 200: OutagePage, ...errorResponses } } },
    async (req, reply) => {
      const { cursor, limit, format, ...filters } = req.query;
      const scope = req.principal?.scope ?? null;
      if (!wantsCsv(req, format)) return listOutages(app.pgRead, scope, filters as OutageFilters, { cursor, limit });
      async function* rows() {
        let next: string | undefined = cursor;
        do {
          const page = await listOutages(app.pgRead, scope, filters as OutageFilters, { cursor: next, limit: 1000 });
          for (const o of page.items) {
            yield [
              o.id,
              o.device.id,
              o.device.name,
              o.region,
              o.customer,
              o.line,
              o.lineLabel,
              localIso(new Date(o.startedAt), tz),
              o.endedAt ? localIso(new Date(o.endedAt), tz) : '',
              o.durationMs,
              o.unknownMs,
              o.class,
              o.wholeSite,
              o.utilityFeed,
              o.planned,
              localIso(o.startWindow ? new Date(o.startWindow.from) : null, tz),
              localIso(o.startWindow ? new Date(o.startWindow.to) : null, tz),
              localIso(o.endWindow ? new Date(o.endWindow.from) : null, tz),
              localIso(o.endWindow ? new Date(o.endWindow.to) : null, tz),
              o.source,
            ];
          }
          next = page.nextCursor ?? undefined;
        } while (next);
      }
      return sendCsv(reply, 'outages.csv', CSV_HEADER, rows());
    },
  );
};

export default outageRoutes;
