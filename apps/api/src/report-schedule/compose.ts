/**
 * One subscription's report for one period: the API's own reliability report (the same
 * function as GET /api/reports/reliability) for the subscription's scope, by region or
 * customer for the table and by device for the worst sites and the CSV attachment (the
 * API's CSV columns, every site, worst first).
 */
import type { Pool } from '@spms/db';
import { composeReportEmail, type IndexSummary, type ReportEmail, type ReportPeriod } from '@spms/email';
import { csvText } from '../core/csv.js';
import type { Scope } from '../core/principal.js';
import { RELIABILITY_CSV_HEADER, reliabilityCsvRow } from '../routes/reports/reliability-csv.js';
import { type GroupReport, reliabilityReport } from '../routes/reports/reports.js';

export interface SubscriptionRow {
  id: string;
  recipient_id: string;
  email: string;
  scope_kind: 'all' | 'region' | 'customer';
  scope_value: string | null;
  monthly: boolean;
  weekly: boolean;
  worst_sites: number;
  created_at: Date;
}

export interface BuiltReport {
  email: ReportEmail;
  attachmentName: string;
  attachment: string;
}

const summary = (g: GroupReport): IndexSummary => ({
  lines: g.lines,
  outages: g.main.all.count,
  sustained: g.main.sustained.count,
  momentary: g.main.momentary.count,
  outageMinutes: g.main.all.totalDurationMs / 60_000,
  saifi: g.main.indices.saifi,
  saidiMinutes: g.main.indices.saidiMinutes,
  caidiMinutes: g.main.indices.caidiMinutes,
  maifi: g.main.indices.maifi,
  asaiPercent: g.main.indices.asaiPercent,
});

const slug = (s: string) =>
  s
    .replace(/[^A-Za-z0-9]+/g, '-')
    .replace(/^-|-$/g, '')
    .slice(0, 40) || 'scope';

export async function buildReport(
  pg: Pool,
  sub: SubscriptionRow,
  period: ReportPeriod,
  timeZone: string,
): Promise<BuiltReport> {
  const v = sub.scope_value ?? '';
  const scope: Scope | null =
    sub.scope_kind === 'region'
      ? { regions: [v], customers: null }
      : sub.scope_kind === 'customer'
        ? { regions: null, customers: [v] }
        : null;
  const groupBy = sub.scope_kind === 'region' ? 'customer' : 'region';
  const from = new Date(period.from);
  const to = new Date(period.to);
  const opts = { from, to, excludeMajorEvents: false, timeZone };
  const [byGroup, byDevice] = await Promise.all([
    reliabilityReport(pg, scope, { ...opts, groupBy }),
    reliabilityReport(pg, scope, { ...opts, groupBy: 'device' }),
  ]);
  const sites = [...byDevice.groups].sort(
    (a, b) => b.main.all.totalDurationMs - a.main.all.totalDurationMs || (a.name ?? '').localeCompare(b.name ?? ''),
  );
  const worst = sites.filter((g) => g.main.all.totalDurationMs > 0).slice(0, sub.worst_sites);
  const regions = new Map<string, string | null>();
  if (worst.length > 0) {
    const { rows } = await pg.query<{ id: string; region: string | null }>(
      'SELECT id::text, region FROM devices WHERE id = ANY($1::uuid[])',
      [worst.map((g) => g.key)],
    );
    for (const r of rows) regions.set(r.id, r.region);
  }
  const scopeLabel = sub.scope_kind === 'all' ? 'the whole fleet' : `${sub.scope_kind} ${v}`;
  const attachmentName = `spms-reliability-${period.key.replace(':', '-')}-${sub.scope_kind === 'all' ? 'fleet' : slug(v)}.csv`;
  const attachment = csvText(RELIABILITY_CSV_HEADER, [
    reliabilityCsvRow(byDevice.fleet, 'fleet', from, to, timeZone),
    ...sites.map((g) => reliabilityCsvRow(g, g.key, from, to, timeZone)),
  ]);
  const email = composeReportEmail({
    scopeLabel,
    periodLabel: period.label,
    from: period.from,
    to: period.to,
    timeZone,
    summary: summary(byGroup.fleet),
    groupLabel: groupBy === 'region' ? 'Region' : 'Customer',
    groups: byGroup.groups.map((g) => ({ name: g.name ?? (g.key || '(none)'), ...summary(g) })),
    worst: worst.map((g) => ({
      site: g.name ?? g.key,
      region: regions.get(g.key) ?? null,
      outageMinutes: g.main.all.totalDurationMs / 60_000,
      outages: g.main.all.count,
    })),
    attachment: { filename: attachmentName, content: attachment },
  });
  return { email, attachmentName, attachment };
}
