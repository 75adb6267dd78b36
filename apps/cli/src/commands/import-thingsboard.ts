/**
 * `spms import thingsboard`: a fleet from ThingsBoard's REST API into SPMS, in three phases
 * (devices listed, devices created or updated with their credentials unchanged, history),
 * each with a progress line on stderr; a summary at the end and, with --report, a JSON
 * report. Re-runs are idempotent: existing devices are updated, not duplicated, and history
 * resumes from the progress SPMS recorded (thingsboard-history.ts).
 */
import { writeFile } from 'node:fs/promises';
import type { Context } from '../context.js';
import { CliError, usageError } from '../errors.js';
import { parseFlags, str } from '../flags.js';
import { printJson } from '../output.js';
import { stdio } from '../run.js';
import { type TbAttribute, type TbCredentials, type TbDevice, ThingsBoardClient } from './thingsboard-client.js';
import { importHistory } from './thingsboard-history.js';
import { changedFields, deviceCsv, mapCredentials, mapFields } from './thingsboard-map.js';
import { createProgress } from './thingsboard-progress.js';

export interface DeviceReport {
  name: string;
  thingsboardId: string;
  action: 'created' | 'updated' | 'unchanged' | 'skipped' | 'would create' | 'would update';
  reason?: string;
  warnings: string[];
  history?: {
    keys: string[];
    readings: number;
    entries: number;
    resumedFrom: string | null;
    /** Outages SPMS derived from this device's imported history (source 'import'), all runs. */
    outages: number;
  };
}

export interface ImportReport {
  source: string;
  dryRun: boolean;
  startedAt: string;
  finishedAt?: string;
  devices: DeviceReport[];
  totals: {
    listed: number;
    created: number;
    updated: number;
    unchanged: number;
    skipped: number;
    readings: number;
    outages: number;
  };
  warnings: string[];
  error?: string;
}

const OPTIONS = {
  url: { type: 'string' },
  username: { type: 'string' },
  password: { type: 'string' },
  token: { type: 'string' },
  since: { type: 'string' },
  until: { type: 'string' },
  device: { type: 'string', multiple: true },
  customer: { type: 'string' },
  'dry-run': { type: 'boolean' },
  history: { type: 'string' },
  report: { type: 'string' },
  'page-limit': { type: 'string' },
  'retry-delay-ms': { type: 'string' },
} as const;

function parseTime(values: Record<string, unknown>, key: string): number | undefined {
  const v = str(values as never, key);
  if (v === undefined) return undefined;
  const ms = Date.parse(v);
  if (!Number.isFinite(ms)) throw usageError(`--${key} must be an ISO date or time, e.g. 2026-01-01T00:00:00Z`);
  return ms;
}

function positiveInt(values: Record<string, unknown>, key: string, dflt: number): number {
  const v = str(values as never, key);
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw usageError(`--${key} must be a positive integer`);
  return n;
}

const DAY = 86_400_000;

export async function importCommand(ctx: Context, sub: string | undefined, args: string[]): Promise<void> {
  if (sub !== 'thingsboard')
    throw usageError('usage: spms import thingsboard --url URL (--username U --password P | --token JWT) …');
  const { values } = parseFlags(args, OPTIONS);
  const url = str(values, 'url');
  if (!url) throw usageError('--url is required (the ThingsBoard address, e.g. https://thingsboard.cloud)');
  const mode = str(values, 'history') ?? 'all';
  if (mode !== 'none' && mode !== 'lines' && mode !== 'all') throw usageError('--history must be none, lines or all');
  const since = parseTime(values, 'since');
  const until = parseTime(values, 'until') ?? Date.now();
  if (since !== undefined && since > until) throw usageError('--since is after --until');
  const names = (values.device as string[] | undefined) ?? [];
  const customer = str(values, 'customer');
  const dryRun = values['dry-run'] === true;
  const reportFile = str(values, 'report');
  const retryDelayMs = positiveInt(values, 'retry-delay-ms', 1000);
  const pageLimit = positiveInt(values, 'page-limit', 1000);
  const tb = new ThingsBoardClient({
    url,
    auth: { username: str(values, 'username'), password: str(values, 'password'), token: str(values, 'token') },
    backoffMs: retryDelayMs,
  });
  const report: ImportReport = {
    source: tb.base,
    dryRun,
    startedAt: new Date().toISOString(),
    devices: [],
    totals: { listed: 0, created: 0, updated: 0, unchanged: 0, skipped: 0, readings: 0, outages: 0 },
    warnings: [],
  };
  // Bars on a terminal (the real stderr, not CI); plain lines otherwise (and in tests).
  const tty = ctx.io === stdio && process.stderr.isTTY && !process.env.CI ? process.stderr : null;
  const progress = createProgress({ write: (line) => ctx.io.err(line), tty });
  const log = progress.log;
  try {
    await runImport();
  } catch (err) {
    report.error = err instanceof Error ? err.message : String(err);
    throw err;
  } finally {
    report.finishedAt = new Date().toISOString();
    if (reportFile) await writeFile(reportFile, `${JSON.stringify(report, null, 2)}\n`);
  }
  const t = report.totals;
  if (ctx.json) printJson(ctx.io, report);
  else
    ctx.io.out(
      `${dryRun ? 'dry run: ' : ''}${t.listed} devices: ${t.created} created, ${t.updated} updated, ${t.unchanged} unchanged, ${t.skipped} skipped; ${t.readings} readings imported, ${t.outages} outages derived${report.warnings.length + report.devices.reduce((n, d) => n + d.warnings.length, 0) > 0 ? ' (see warnings)' : ''}`,
    );
  if (t.skipped > 0)
    throw new CliError(
      `${t.skipped} device(s) skipped: ${report.devices
        .filter((d) => d.action === 'skipped')
        .map((d) => `${d.name} (${d.reason})`)
        .join('; ')}`,
    );

  async function runImport(): Promise<void> {
    await tb.signIn();
    log(`signed in to ThingsBoard at ${tb.base}`);
    // Phase 1: the devices to import.
    const listing = progress.phase('devices', 'devices', null);
    const devices: TbDevice[] = [];
    let seen = 0;
    for await (const page of tb.devices(100, (total) => listing.setTotal(total))) {
      seen += page.length;
      for (const d of page)
        if ((names.length === 0 || names.includes(d.name)) && (customer === undefined || d.customerTitle === customer))
          devices.push(d);
      listing.tick(page.length, `${devices.length} to import`);
    }
    for (const n of names)
      if (!devices.some((d) => d.name === n))
        report.warnings.push(`device "${n}" is not in ThingsBoard (or not of --customer)`);
    report.totals.listed = devices.length;
    listing.done(`${devices.length} to import of ${seen} listed`);

    // Phase 2: create or update each device, credentials unchanged.
    const creating = progress.phase('credentials', 'devices', devices.length);
    const profiles = new Set((await ctx.client.request<{ name: string }[]>('GET', '/api/profiles')).map((p) => p.name));
    const present: DeviceReport[] = [];
    for (const d of devices) {
      const entry = await importDevice(d, profiles);
      report.devices.push(entry);
      if (entry.action === 'skipped') report.totals.skipped++;
      else if (entry.action === 'created') report.totals.created++;
      else if (entry.action === 'updated') report.totals.updated++;
      else if (entry.action === 'unchanged') report.totals.unchanged++;
      if (entry.action === 'created' || entry.action === 'updated' || entry.action === 'unchanged') present.push(entry);
      creating.tick(1, `${d.name}: ${entry.action}`);
    }
    creating.done(
      `${report.totals.created} created, ${report.totals.updated} updated, ${report.totals.unchanged} unchanged, ${report.totals.skipped} skipped`,
    );
    if (dryRun || mode === 'none') return;

    // Phase 3: history, device by device; progress in device-days of history covered.
    const plans = present.map((entry) => {
      const d = devices.find((x) => x.id.id === entry.thingsboardId) as TbDevice;
      return { entry, d, from: since ?? d.createdTime ?? until - 365 * DAY };
    });
    const days = (ms: number) => ms / DAY;
    const history = progress.phase(
      'history',
      'device-days',
      Math.ceil(plans.reduce((n, p) => n + days(Math.max(0, until - p.from)), 0)),
    );
    let covered = 0;
    const advance = (ms: number, detail: string) => {
      const before = Math.floor(covered);
      covered += days(ms);
      history.tick(Math.floor(covered) - before, detail);
    };
    for (const { entry, d, from } of plans) {
      let deviceCovered = 0;
      const h = await importHistory(
        tb,
        ctx.client,
        { tbId: d.id.id, name: d.name, since: from, until, mode: mode as 'lines' | 'all', pageLimit },
        retryDelayMs,
        log,
        (ms, readings) => {
          deviceCovered += ms;
          advance(ms, `${d.name}: ${readings} readings`);
        },
      );
      // The device's whole span counts as covered (the last window ends 1 ms past it).
      advance(Math.max(0, until - from - deviceCovered), `${d.name}: ${h.readings} readings`);
      // Every batch was stored before the next was posted (wait=true): its outages are derived.
      const outages = await countImportedOutages(d.name);
      entry.history = {
        ...h,
        resumedFrom: h.resumedFrom === null ? null : new Date(h.resumedFrom).toISOString(),
        outages,
      };
      report.totals.readings += h.readings;
      report.totals.outages += outages;
      if (h.resumedFrom !== null) log(`history ${d.name}: resumed from ${new Date(h.resumedFrom).toISOString()}`);
    }
    history.done(`${report.totals.readings} readings imported, ${report.totals.outages} outages derived`);
  }

  async function countImportedOutages(name: string): Promise<number> {
    let n = 0;
    let cursor: string | undefined;
    do {
      const page = await ctx.client.request<{ items: unknown[]; nextCursor: string | null }>('GET', '/api/outages', {
        query: { device: name, source: 'import', limit: 1000, cursor },
      });
      n += page.items.length;
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    return n;
  }

  async function importDevice(d: TbDevice, profiles: Set<string>): Promise<DeviceReport> {
    const entry: DeviceReport = { name: d.name, thingsboardId: d.id.id, action: 'skipped', warnings: [] };
    const attributes: TbAttribute[] = [];
    for (const scope of ['CLIENT_SCOPE', 'SHARED_SCOPE', 'SERVER_SCOPE'])
      attributes.push(
        ...((await tb.getOptional<TbAttribute[]>(
          `reading ${scope} attributes of ${d.name}`,
          `/api/plugins/telemetry/DEVICE/${d.id.id}/values/attributes/${scope}`,
        )) ?? []),
      );
    const fields = mapFields(d, attributes);
    const existing = await ctx.client
      .request<Record<string, unknown>>('GET', `/api/devices/${encodeURIComponent(d.name)}`)
      .catch((err: unknown) => {
        if (err instanceof CliError && err.status === 404) return null;
        throw err;
      });
    try {
      if (existing) {
        const patch = changedFields(existing, fields);
        if (Object.keys(patch).length === 0) entry.action = 'unchanged';
        else if (dryRun) entry.action = 'would update';
        else {
          await ctx.client.request('PATCH', `/api/devices/${encodeURIComponent(d.name)}`, { json: patch });
          entry.action = 'updated';
        }
        return entry;
      }
      const raw = await tb.getOptional<TbCredentials>(
        `reading the credentials of ${d.name}`,
        `/api/device/${d.id.id}/credentials`,
      );
      const { credentials, warning } = mapCredentials(raw);
      if (warning) entry.warnings.push(warning);
      const profile = d.type && profiles.has(d.type) ? d.type : undefined;
      if (d.type && !profile)
        entry.warnings.push(`profile "${d.type}" does not exist in SPMS: the default profile is used`);
      if (credentials?.type === 'MQTT_BASIC' && credentials.password === null) {
        // No password (ThingsBoard allows it): the CSV cannot say "none", the device API can.
        if (dryRun) entry.action = 'would create';
        else {
          await ctx.client.request('POST', '/api/devices', {
            json: { name: d.name, ...fields, ...(profile ? { profile } : {}), credentials },
          });
          entry.action = 'created';
        }
        return entry;
      }
      // The CSV import keeps short secrets the firmware already carries (it warns instead of refusing).
      const res = await ctx.client.request<{ devices: { warnings?: string[] }[] }>('POST', '/api/devices/import', {
        csv: deviceCsv(d.name, profile, fields, credentials),
        query: { dryRun: dryRun || undefined },
      });
      entry.warnings.push(...(res.devices[0]?.warnings ?? []));
      entry.action = dryRun ? 'would create' : 'created';
    } catch (err) {
      if (!(err instanceof CliError) || err.status === undefined || err.status >= 500) throw err;
      entry.action = 'skipped';
      entry.reason = err.message;
    }
    return entry;
  }
}
