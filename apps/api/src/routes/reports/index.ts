/** GET /api/reports/reliability?groupBy=region|customer|device&from&to&excludeMajorEvents= (JSON or CSV). */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { localDay } from '@spms/reliability';
import { Type } from 'typebox';
import { sendCsv, wantsCsv } from '../../core/csv.js';
import { AppError } from '../../core/errors.js';
import { errorResponses, formatSchemaErrors } from '../error-schema.js';
import { Iso, Nullable } from '../status/schemas.js';
import { RELIABILITY_CSV_HEADER, reliabilityCsvRow } from './reliability-csv.js';
import { type GroupReport, reliabilityReport } from './reports.js';

const NullNum = Nullable(Type.Number());
const Stats = Type.Object({
  count: Type.Integer({ description: 'began in the period (open ones included)' }),
  openCount: Type.Integer(),
  carriedIn: Type.Integer({ description: 'began before the period, still running at its start' }),
  withDuration: Type.Integer(),
  totalDurationMs: Type.Number(),
  meanDurationMs: NullNum,
  longestMs: NullNum,
});
const OutageSet = Type.Object({
  indices: Type.Object({
    customerInterruptions: Type.Number(),
    customerMinutes: Type.Number(),
    saifi: Type.Number(),
    saidiMinutes: Type.Number(),
    caidiMinutes: NullNum,
    maifi: Type.Number(),
    asai: NullNum,
    asaiPercent: NullNum,
  }),
  sustained: Stats,
  momentary: Stats,
  pending: Type.Integer(),
  all: Type.Object({
    count: Type.Integer(),
    totalDurationMs: Type.Number(),
    meanDurationMs: NullNum,
    longestMs: NullNum,
  }),
});
const Group = Type.Object({
  key: Type.String(),
  name: Nullable(Type.String()),
  lines: Type.Integer(),
  lineHours: Type.Number(),
  unknownLineHours: Type.Number(),
  knownLineHours: Type.Number(),
  main: OutageSet,
  planned: OutageSet,
  majorEvents: Nullable(OutageSet),
});
const Report = Type.Object({
  from: Iso,
  to: Iso,
  timeZone: Type.String(),
  groupBy: Type.String(),
  excludeMajorEvents: Type.Boolean(),
  majorEventThresholdMinutes: NullNum,
  majorEventDays: Type.Array(Type.String()),
  fleet: Group,
  groups: Type.Array(Group),
});

const ReportQuery = Type.Object(
  {
    groupBy: Type.Enum(['region', 'customer', 'device'], { default: 'region' }),
    from: Type.String({ format: 'date-time' }),
    to: Type.String({ format: 'date-time' }),
    excludeMajorEvents: Type.Boolean({ default: false }),
    format: Type.Optional(Type.Enum(['json', 'csv'])),
  },
  { additionalProperties: false },
);

const MAX_PERIOD_MS = 5 * 366 * 86_400_000;
// Local years a report may cover. Major-event days read the five years before the period,
// and four-digit day strings cannot go below year 0000; no fleet data exists outside these.
const MIN_YEAR = 2000;
const MAX_YEAR = 2099;

/** A 400 naming the bound when `t` (local time) falls outside MIN_YEAR..MAX_YEAR. */
function checkYear(field: 'from' | 'to', t: number, timeZone: string): void {
  const year = Number(/^-?\d+/.exec(localDay(t, timeZone))?.[0]);
  if (!(year >= MIN_YEAR && year <= MAX_YEAR))
    throw new AppError(
      'BAD_REQUEST',
      `invalid querystring: ${field}: the year must be between ${MIN_YEAR} and ${MAX_YEAR} (local time, ${timeZone})`,
    );
}

const reportRoutes: FastifyPluginAsyncTypebox = async (app) => {
  app.addHook('onRequest', app.authenticate);
  app.setSchemaErrorFormatter(formatSchemaErrors);
  const timeZone = app.config.SPMS_TIME_ZONE;
  app.get(
    '/reliability',
    { schema: { querystring: ReportQuery, response: { 200: Report, ...errorResponses } } },
    async (req, reply) => {
      const from = new Date(req.query.from);
      const to = new Date(req.query.to);
      if (!(to > from)) throw new AppError('BAD_REQUEST', 'invalid querystring: to must be after from');
      checkYear('from', from.getTime(), timeZone);
      checkYear('to', to.getTime() - 1, timeZone); // `to` is exclusive
      if (to.getTime() - from.getTime() > MAX_PERIOD_MS)
        throw new AppError('BAD_REQUEST', 'invalid querystring: the period may be at most 5 years');
      const report = await reliabilityReport(app.pgRead, req.principal?.scope ?? null, {
        from,
        to,
        groupBy: req.query.groupBy as 'region' | 'customer' | 'device',
        excludeMajorEvents: req.query.excludeMajorEvents,
        timeZone,
        source: app.config.REPORTS_FROM,
      });
      if (!wantsCsv(req, req.query.format)) return report;
      const row = (g: GroupReport, key: string) => reliabilityCsvRow(g, key, from, to, timeZone);
      async function* rows() {
        yield row(report.fleet, 'fleet');
        for (const g of report.groups) yield row(g, g.key);
      }
      return sendCsv(reply, 'reliability.csv', RELIABILITY_CSV_HEADER, rows());
    },
  );
};

export default reportRoutes;
