/**
 * Property: a reliability report from the day rollups equals the one from raw outage rows,
 * and both equal @spms/reliability's computeReliability over the same rows (the oracle).
 * Random devices (some entering service inside the period), lines (some disabled), outages
 * that cross local midnights (in Asia/Colombo and in Europe/London across its DST changes),
 * open ones, offline windows (unknown time), the worker's planned flag and planned windows
 * added after the outages, a device moved to another region afterwards, and report periods
 * both aligned to local days and not. The rollups are kept as the worker keeps them: the
 * triggers mark the touched device-line-days dirty as the rows are written, and the worker's
 * refresher (outage_rollups_refresh_dirty) recomputes them; a report read while marks are
 * still dirty is read from raw rows and is exact as well. The same for the group rows (sums
 * per region, customer and day, migration 20261203001400) that reports by region or customer
 * read: devices in two customers, a customer move and a line enabled or disabled afterwards,
 * reports grouped either way; the group rows the refresher kept equal a rebuild of them.
 */
import { createPool, type Pool } from '@spms/db';
import { computeReliability, type GroupReliability, localDayStart } from '@spms/reliability';
import { createTestDatabase, type TestDatabase } from '@spms/testing';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reliabilityReport } from './reports.js';
import type { GroupReport, ReliabilityResult } from './reports-acc.js';

const MIN = 60_000;
const REGIONS = ['North', 'South'] as const;

const lineArb = fc.record({
  enabled: fc.integer({ min: 0, max: 4 }).map((x) => x > 0),
  outages: fc.array(
    fc.record({
      gap: fc.integer({ min: 0, max: 36 * 60 }),
      // momentary (< 5 min) to two days: many cross one or more midnights
      dur: fc.oneof(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 5, max: 48 * 60 })),
      planned: fc.boolean(),
    }),
    { maxLength: 5 },
  ),
  lastOpen: fc.boolean(),
});
const devArb = fc.record({
  region: fc.constantFrom(...REGIONS),
  customer: fc.constantFrom('C1', 'C2'),
  lateMin: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 5 * 24 * 60 })),
  lines: fc.array(lineArb, { minLength: 1, maxLength: 3 }),
  offline: fc.array(
    fc.record({ gap: fc.integer({ min: 0, max: 48 * 60 }), dur: fc.integer({ min: 1, max: 30 * 60 }) }),
    {
      maxLength: 3,
    },
  ),
  offlineOpen: fc.boolean(),
});
const caseArb = fc.record({
  zone: fc.constantFrom('Asia/Colombo', 'Europe/London'),
  // the London clock change of 29 March or 25 October 2026 lies inside the generated days
  base: fc.constantFrom(Date.UTC(2026, 2, 25, 7, 13), Date.UTC(2026, 9, 21, 19, 41)),
  devices: fc.array(devArb, { minLength: 1, maxLength: 3 }),
  windows: fc.array(
    fc.record({
      device: fc.nat(2),
      byRegion: fc.boolean(),
      from: fc.integer({ min: 0, max: 8 * 24 * 60 }),
      len: fc.integer({ min: 1, max: 24 * 60 }),
    }),
    { maxLength: 2 },
  ),
  move: fc.option(fc.nat(2)),
  recustomer: fc.option(fc.nat(2)),
  toggle: fc.option(fc.record({ device: fc.nat(2), line: fc.nat(2) })),
  groupBy: fc.constantFrom('region', 'customer'),
  fromMin: fc.integer({ min: -24 * 60, max: 5 * 24 * 60 }),
  lenMin: fc.integer({ min: 1, max: 9 * 24 * 60 }),
  alignFrom: fc.boolean(),
  alignTo: fc.boolean(),
  med: fc.boolean(),
});

let db: TestDatabase;
let pg: Pool;

beforeAll(async () => {
  db = await createTestDatabase('reports-rollup');
  pg = createPool(db.url, { max: 4 });
});
afterAll(async () => {
  await pg?.end();
  await db?.drop();
});

const overlap = (a: number, b: number, ws: { from: number; to: number }[]) =>
  ws.reduce((s, w) => s + Math.max(0, Math.min(b, w.to) - Math.max(a, w.from)), 0);

/** Days are local days of the zone: the nearest local midnight on or before t. */
function midnightBefore(t: number, zone: string): number {
  const day = new Intl.DateTimeFormat('en-CA', {
    timeZone: zone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
  }).format(new Date(t));
  return localDayStart(day, zone);
}

/** What the worker's rollup refresher does (day rows, then group rows, in one transaction), until nothing is dirty. */
async function refreshDirty() {
  for (;;) {
    const c = await pg.connect();
    try {
      await c.query('BEGIN');
      const day = (await c.query('SELECT outage_rollups_refresh_dirty(1000) AS n')).rows[0].n;
      const group = (await c.query('SELECT outage_group_rollups_refresh_dirty() AS n')).rows[0].n;
      await c.query('COMMIT');
      if (day === 0 && group === 0) return;
    } finally {
      c.release();
    }
  }
}

const GROUP_ROWS = `SELECT region, customer, day::text, start_day::text, planned, class, first_day, started, open, closed,
                           known_ms::text, longest_ms::text
                      FROM outage_group_day_rollups ORDER BY 1, 2, 3, 4, 5, 6, 7`;

/** The group rows as kept equal the group rows rebuilt from the day rows; the line masks equal the lines. */
async function expectGroupRowsRebuilt() {
  const kept = (await pg.query(GROUP_ROWS)).rows;
  await pg.query('SELECT outage_group_rollups_refresh_days(ARRAY(SELECT DISTINCT day FROM outage_day_rollups))');
  expect(kept).toEqual((await pg.query(GROUP_ROWS)).rows);
  const masks = await pg.query(
    `SELECT (SELECT json_agg(x ORDER BY device_id) FROM (SELECT device_id, lines::int, mask FROM device_line_masks) x) AS kept,
            (SELECT json_agg(x ORDER BY device_id) FROM (SELECT device_id, count(*)::int AS lines, bit_or(1 << (number - 1)) AS mask
                                                          FROM device_lines WHERE enabled GROUP BY device_id) x) AS lines`,
  );
  expect(masks.rows[0].kept).toEqual(masks.rows[0].lines);
}

type Case = typeof caseArb extends fc.Arbitrary<infer T> ? T : never;

async function seed(c: Case) {
  // DELETE, not TRUNCATE: the triggers see the removals (and it is faster on tiny tables)
  await pg.query('DELETE FROM planned_interruptions');
  await pg.query('DELETE FROM device_offline_periods');
  await pg.query('DELETE FROM devices');
  await pg.query('DELETE FROM device_profiles');
  await refreshDirty();
  expect((await pg.query('SELECT count(*)::int AS n FROM outage_day_rollups')).rows[0].n).toBe(0);
  // rollups empty: switching their zone needs no rebuild
  await pg.query('UPDATE outage_rollup_settings SET time_zone = $1', [c.zone]);
  const profile = '00000000-0000-4000-8000-000000000000';
  await pg.query(`INSERT INTO device_profiles (id, name, updated_at) VALUES ($1, 'p', now())`, [profile]);
  const now = Date.now();
  const oracle = {
    servicePoints: [] as { deviceId: string; line: number; region: string; inServiceFrom: number }[],
    outages: [] as {
      deviceId: string;
      line: number;
      startedAt: number;
      endedAt: number | null;
      unknownMs: number;
      class: 'momentary' | 'sustained' | 'pending';
      planned: boolean;
      flag: boolean;
    }[],
    unknown: [] as { deviceId: string; from: number; to: number | null }[],
  };
  const ids: string[] = [];
  for (const [i, d] of c.devices.entries()) {
    const id = `00000000-0000-4000-8000-00000000000${i + 1}`;
    ids.push(id);
    const created = c.base + d.lateMin * MIN;
    await pg.query(
      `INSERT INTO devices (id, name, region, customer, profile_id, created_at, updated_at) VALUES ($1, $2, $3, $6, $4, $5, now())`,
      [id, `D${i}`, d.region, profile, new Date(created), d.customer],
    );
    // offline windows first (the outages' unknown time comes from them, as the engine's does)
    const ws: { from: number; to: number }[] = [];
    let t = created;
    for (const [k, w] of d.offline.entries()) {
      const from = t + w.gap * MIN;
      const open = d.offlineOpen && k === d.offline.length - 1;
      ws.push({ from, to: open ? Number.POSITIVE_INFINITY : from + w.dur * MIN });
      oracle.unknown.push({ deviceId: id, from, to: open ? null : from + w.dur * MIN });
      t = from + w.dur * MIN + MIN;
    }
    for (const [n, l] of d.lines.entries()) {
      const line = n + 1;
      await pg.query('INSERT INTO device_lines (device_id, number, label, enabled) VALUES ($1, $2, $3, $4)', [
        id,
        line,
        `L${line}`,
        l.enabled,
      ]);
      if (l.enabled) oracle.servicePoints.push({ deviceId: id, line, region: d.region, inServiceFrom: created });
      let s = created;
      for (const [k, o] of l.outages.entries()) {
        const startedAt = s + o.gap * MIN + 1000;
        const open = l.lastOpen && k === l.outages.length - 1 && startedAt < now;
        const endedAt = open ? null : startedAt + o.dur * MIN;
        const unknownMs = endedAt === null ? 0 : overlap(startedAt, endedAt, ws);
        const cls = open ? (o.dur < 5 ? 'pending' : 'sustained') : o.dur < 5 ? 'momentary' : 'sustained';
        oracle.outages.push({
          deviceId: id,
          line,
          startedAt,
          endedAt,
          unknownMs,
          class: cls,
          planned: o.planned,
          flag: o.planned,
        });
        s = (endedAt ?? startedAt) + MIN;
        if (open) break;
      }
    }
    // outages written before the offline windows on some devices: the offline trigger must catch up
    const write = async (what: 'outages' | 'offline') => {
      if (what === 'offline')
        for (const w of oracle.unknown.filter((u) => u.deviceId === id))
          await pg.query('INSERT INTO device_offline_periods (device_id, started_at, ended_at) VALUES ($1, $2, $3)', [
            id,
            new Date(w.from),
            w.to === null ? null : new Date(w.to),
          ]);
      else
        for (const [k, o] of oracle.outages.filter((x) => x.deviceId === id).entries())
          await pg.query(
            `INSERT INTO outages (device_id, line, started_at, ended_at, unknown_ms, duration_ms, class, planned, start_msg_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
            [
              id,
              o.line,
              new Date(o.startedAt),
              o.endedAt === null ? null : new Date(o.endedAt),
              o.unknownMs,
              o.endedAt === null ? null : o.endedAt - o.startedAt - o.unknownMs,
              o.class,
              o.flag,
              `m${k}`,
            ],
          );
    };
    for (const what of i % 2 ? (['outages', 'offline'] as const) : (['offline', 'outages'] as const)) await write(what);
  }
  // planned windows added after the outages, then a device moved: both rewrite the past
  const regionOf = new Map(c.devices.map((d, i) => [ids[i] as string, d.region as string]));
  const windows: { deviceId: string | null; region: string | null; from: number; to: number }[] = [];
  for (const w of c.windows) {
    const dev = ids[w.device % ids.length] as string;
    const from = c.base + w.from * MIN;
    const win = w.byRegion
      ? { deviceId: null, region: regionOf.get(dev) as string, from, to: from + w.len * MIN }
      : { deviceId: dev, region: null, from, to: from + w.len * MIN };
    windows.push(win);
    await pg.query(
      `INSERT INTO planned_interruptions (id, region, device_id, starts_at, ends_at, reason, created_by)
       VALUES (gen_random_uuid(), $1, $2, $3, $4, 'test', 'test')`,
      [win.region, win.deviceId, new Date(win.from), new Date(win.to)],
    );
  }
  if (c.move !== null) {
    const dev = ids[c.move % ids.length] as string;
    const to = regionOf.get(dev) === 'North' ? 'South' : 'North';
    regionOf.set(dev, to);
    await pg.query('UPDATE devices SET region = $2 WHERE id = $1', [dev, to]);
  }
  for (const sp of oracle.servicePoints) sp.region = regionOf.get(sp.deviceId) as string;
  // a customer move and a line switched on or off: only the group rows depend on them
  if (c.recustomer !== null) {
    const dev = ids[c.recustomer % ids.length] as string;
    await pg.query(`UPDATE devices SET customer = CASE customer WHEN 'C1' THEN 'C2' ELSE 'C1' END WHERE id = $1`, [
      dev,
    ]);
  }
  if (c.toggle !== null) {
    const i = c.toggle.device % ids.length;
    const dev = ids[i] as string;
    const line = (c.toggle.line % (c.devices[i] as Case['devices'][number]).lines.length) + 1;
    const { rows } = await pg.query<{ enabled: boolean }>(
      'UPDATE device_lines SET enabled = NOT enabled WHERE device_id = $1 AND number = $2 RETURNING enabled',
      [dev, line],
    );
    if (rows[0]?.enabled) {
      const created = c.base + (c.devices[i] as Case['devices'][number]).lateMin * MIN;
      oracle.servicePoints.push({ deviceId: dev, line, region: regionOf.get(dev) as string, inServiceFrom: created });
    } else oracle.servicePoints = oracle.servicePoints.filter((sp) => !(sp.deviceId === dev && sp.line === line));
  }
  await refreshDirty();
  for (const o of oracle.outages)
    o.planned =
      o.flag ||
      windows.some(
        (w) =>
          o.startedAt >= w.from &&
          o.startedAt < w.to &&
          (w.deviceId === o.deviceId || (w.deviceId === null && w.region === regionOf.get(o.deviceId))),
      );
  return oracle;
}

const STAT_KEYS = ['count', 'openCount', 'carriedIn', 'withDuration', 'totalDurationMs', 'longestMs'] as const;

/** The comparable part of a group of the API's report. */
function apiView(g: GroupReport) {
  const set = (s: GroupReport['main'] | null) =>
    s && {
      pending: s.pending,
      ...Object.fromEntries(
        (['sustained', 'momentary'] as const).flatMap((c) => STAT_KEYS.map((k) => [`${c}.${k}`, s[c][k]])),
      ),
    };
  return {
    lines: g.lines,
    lineHours: g.lineHours,
    unknownLineHours: g.unknownLineHours,
    main: set(g.main),
    planned: set(g.planned),
    majorEvents: set(g.majorEvents),
  };
}

function oracleView(g: GroupReliability) {
  return apiView(g as unknown as GroupReport);
}

function views(r: ReliabilityResult) {
  return { fleet: apiView(r.fleet), groups: Object.fromEntries(r.groups.map((g) => [g.key, apiView(g)])) };
}

/**
 * Random data rarely has major event days; this case has: three quiet days of history, then a
 * 33-hour outage on every line that begins on a London day just after the clock change.
 */
const stormLine = {
  enabled: true,
  outages: [
    { gap: 0, dur: 30, planned: false },
    { gap: 1440, dur: 60, planned: false },
    { gap: 1440, dur: 45, planned: false },
    { gap: 1440, dur: 2000, planned: false },
    { gap: 30, dur: 3, planned: false },
  ],
  lastOpen: false,
};
const STORM: Case = {
  zone: 'Europe/London',
  base: Date.UTC(2026, 2, 25, 7, 13),
  devices: [0, 1, 2].map((i) => ({
    region: REGIONS[i % 2] as (typeof REGIONS)[number],
    customer: i === 2 ? 'C2' : 'C1',
    lateMin: 0,
    lines: [stormLine, stormLine],
    offline: [{ gap: 4 * 1440 + 200, dur: 300 }],
    offlineOpen: false,
  })),
  windows: [],
  move: null,
  recustomer: null,
  toggle: null,
  groupBy: 'region',
  fromMin: 3 * 1440 - 100,
  lenMin: 4 * 1440,
  alignFrom: false,
  alignTo: false,
  med: true,
};

describe('reliability report from day rollups', () => {
  it('equals the report from raw outages and the @spms/reliability oracle', async () => {
    await fc.assert(
      fc.asyncProperty(caseArb, async (c) => {
        const input = await seed(c);
        const fromRaw = c.base + c.fromMin * MIN;
        const from = c.alignFrom ? midnightBefore(fromRaw, c.zone) : fromRaw;
        const toRaw = from + c.lenMin * MIN;
        const toDay = midnightBefore(toRaw, c.zone);
        const to = c.alignTo && toDay > from ? toDay : toRaw;
        if (!(to > from)) return;
        const base = {
          from: new Date(from),
          to: new Date(to),
          excludeMajorEvents: c.med,
          timeZone: c.zone,
        };
        await expectGroupRowsRebuilt();
        const byRegion = c.groupBy === 'region';
        const opts = { ...base, groupBy: c.groupBy as 'region' | 'customer' };
        const raw = await reliabilityReport(pg, null, { ...opts, source: 'raw' });
        const day = await reliabilityReport(pg, null, { ...opts, source: 'day' });
        const rollup = await reliabilityReport(pg, null, { ...opts, source: 'rollup' });
        expect(rollup.majorEventDays).toEqual(raw.majorEventDays);
        expect(day.majorEventDays).toEqual(raw.majorEventDays);
        expect(views(day)).toEqual(views(raw));
        if (c === STORM) expect(raw.majorEventDays.length).toBeGreaterThan(0);
        if (process.env.REPORTS_PROPERTY_STATS)
          console.log(
            `med=${raw.majorEventDays.length} carried=${raw.fleet.main.sustained.carriedIn} n=${raw.fleet.main.sustained.count}`,
          );
        expect(views(rollup)).toEqual(views(raw));
        if (!byRegion) return; // the oracle groups by region; raw equals it there
        const oracle = computeReliability(input, {
          period: { from, to },
          timeZone: c.zone,
          ...(c.med ? { majorEventDays: raw.majorEventDays } : {}),
        });
        expect(views(raw)).toEqual({
          fleet: oracleView(oracle.fleet),
          groups: Object.fromEntries(oracle.regions.map((g) => [g.key, oracleView(g)])),
        });
      }),
      { numRuns: Number(process.env.REPORTS_PROPERTY_RUNS ?? 60), examples: [[STORM]] },
    );
  }, 600_000);

  it('read while outage changes are still dirty (the refresher behind) equals the raw report', async () => {
    await seed(STORM);
    const from = STORM.base + 2 * 1440 * MIN;
    const opts = {
      from: new Date(from),
      to: new Date(from + 4 * 1440 * MIN),
      groupBy: 'region' as const,
      excludeMajorEvents: true,
      timeZone: STORM.zone,
    };
    const before = await reliabilityReport(pg, null, { ...opts, source: 'rollup' });
    // what an ingest storm does before the refresher runs: outages closed, opened, removed
    await pg.query(
      `UPDATE outages SET ended_at = started_at + interval '7 hours', duration_ms = 7 * 3600000, class = 'sustained'
        WHERE start_msg_id = 'm2'`,
    );
    await pg.query(
      `INSERT INTO outages (device_id, line, started_at, ended_at, duration_ms, class, start_msg_id)
       SELECT device_id, number, $1::timestamptz, $1::timestamptz + interval '40 minutes', 2400000, 'sustained', 'late'
         FROM device_lines`,
      [new Date(from + 1440 * MIN + 17 * MIN)],
    );
    await pg.query(`DELETE FROM outages WHERE start_msg_id = 'm0'`);
    expect((await pg.query('SELECT count(*)::int AS n FROM outage_rollup_dirty')).rows[0].n).toBeGreaterThan(0);
    const raw = await reliabilityReport(pg, null, { ...opts, source: 'raw' });
    const dirty = await reliabilityReport(pg, null, { ...opts, source: 'rollup' });
    expect(views(raw)).not.toEqual(views(before));
    expect(dirty.majorEventDays).toEqual(raw.majorEventDays);
    expect(views(dirty)).toEqual(views(raw));
    // and once the refresher has caught up, from the rollups themselves
    await refreshDirty();
    expect((await pg.query('SELECT count(*)::int AS n FROM outage_rollup_dirty')).rows[0].n).toBe(0);
    const refreshed = await reliabilityReport(pg, null, { ...opts, source: 'rollup' });
    expect(views(refreshed)).toEqual(views(raw));
  }, 120_000);

  it('group rows follow a planned window, a reclassification, a region or customer move and a disabled line', async () => {
    await seed(STORM);
    const from = STORM.base + 2 * 1440 * MIN;
    const base = {
      from: new Date(from),
      to: new Date(from + 4 * 1440 * MIN),
      excludeMajorEvents: true,
      timeZone: STORM.zone,
    };
    const dev = '00000000-0000-4000-8000-000000000001';
    const changes: [string, string, unknown[]][] = [
      [
        'a region-wide planned window over the storm day',
        `INSERT INTO planned_interruptions (id, region, starts_at, ends_at, reason, created_by)
         VALUES (gen_random_uuid(), 'North', $1, $2, 'test', 'test')`,
        [new Date(from + 1440 * MIN), new Date(from + 2 * 1440 * MIN)],
      ],
      // what a changed momentary threshold does to the outages it reclassifies
      ['outages reclassified', `UPDATE outages SET class = 'momentary' WHERE duration_ms < 50 * 60000`, []],
      ['a device moved to another region', `UPDATE devices SET region = 'South' WHERE id = $1`, [dev]],
      ['a device moved to another customer', `UPDATE devices SET customer = 'C2' WHERE id = $1`, [dev]],
      ['a line disabled', 'UPDATE device_lines SET enabled = false WHERE device_id = $1 AND number = 2', [dev]],
    ];
    for (const [what, sql, values] of changes) {
      for (const groupBy of ['region', 'customer'] as const) {
        const before = await reliabilityReport(pg, null, { ...base, groupBy, source: 'rollup' });
        expect(views(before), what).toEqual(
          views(await reliabilityReport(pg, null, { ...base, groupBy, source: 'raw' })),
        );
      }
      await pg.query(sql, values);
      const marked = await pg.query(
        'SELECT (SELECT count(*) FROM outage_rollup_dirty) + (SELECT count(*) FROM outage_group_rollup_dirty) AS n',
      );
      expect(Number(marked.rows[0].n), what).toBeGreaterThan(0);
      // read while marked (from day rows or raw rows), then after the refresher (from group rows)
      for (const step of ['marked', 'refreshed']) {
        if (step === 'refreshed') await refreshDirty();
        for (const groupBy of ['region', 'customer'] as const) {
          const raw = await reliabilityReport(pg, null, { ...base, groupBy, source: 'raw' });
          const rollup = await reliabilityReport(pg, null, { ...base, groupBy, source: 'rollup' });
          expect(views(rollup), `${what}, ${step}, by ${groupBy}`).toEqual(views(raw));
          expect(rollup.majorEventDays).toEqual(raw.majorEventDays);
        }
      }
      expect((await pg.query('SELECT count(*)::int AS n FROM outage_group_rollup_dirty')).rows[0].n).toBe(0);
      await expectGroupRowsRebuilt();
    }
  }, 120_000);
});
