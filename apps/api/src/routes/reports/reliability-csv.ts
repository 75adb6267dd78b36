/**
 * The reliability report as CSV rows: one for the whole selection ('fleet'), one per group.
 * Shared by GET /api/reports/reliability?format=csv and the scheduled report e-mails, so an
 * e-mailed attachment has exactly the columns and figures of the API's export.
 */
import { localIso } from '../../core/csv.js';
import type { GroupReport } from './reports.js';

export const RELIABILITY_CSV_HEADER = [
  'group',
  'name',
  'from',
  'to',
  'lines',
  'known_line_hours',
  'unknown_line_hours',
  'outages',
  'sustained',
  'momentary',
  'pending',
  'total_duration_ms',
  'mean_duration_ms',
  'longest_ms',
  'saifi',
  'saidi_min',
  'caidi_min',
  'maifi',
  'asai_percent',
  'planned_outages',
  'major_event_outages',
];

export function reliabilityCsvRow(g: GroupReport, key: string, from: Date, to: Date, timeZone: string): unknown[] {
  const m = g.main;
  return [
    key,
    g.name,
    localIso(from, timeZone),
    localIso(to, timeZone),
    g.lines,
    g.knownLineHours,
    g.unknownLineHours,
    m.all.count,
    m.sustained.count,
    m.momentary.count,
    m.pending,
    m.all.totalDurationMs,
    m.all.meanDurationMs,
    m.all.longestMs,
    m.indices.saifi,
    m.indices.saidiMinutes,
    m.indices.caidiMinutes,
    m.indices.maifi,
    m.indices.asaiPercent,
    g.planned.all.count,
    g.majorEvents ? g.majorEvents.all.count : '',
  ];
}
