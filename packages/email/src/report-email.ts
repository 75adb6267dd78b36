/**
 * The scheduled reliability report e-mail: the period's IEEE 1366 indices for the
 * subscription's scope, one line per region or customer, the worst sites by outage minutes,
 * and the figures as a CSV attachment. The numbers come from the caller (the API's
 * reliability report); this only lays them out.
 */
import { fixed, localDateTime, textTable } from './format.js';

export interface IndexSummary {
  lines: number;
  outages: number;
  sustained: number;
  momentary: number;
  outageMinutes: number;
  saifi: number;
  saidiMinutes: number;
  caidiMinutes: number | null;
  maifi: number;
  asaiPercent: number | null;
}

export interface ReportEmailInput {
  /** 'the whole fleet', 'region Western', 'customer SLT' */
  scopeLabel: string;
  /** 'November 2026' */
  periodLabel: string;
  from: number;
  to: number;
  timeZone: string;
  summary: IndexSummary;
  /** What the groups are ('Region', 'Customer'); no groups, no table. */
  groupLabel: string;
  groups: (IndexSummary & { name: string })[];
  worst: { site: string; region: string | null; outageMinutes: number; outages: number }[];
  attachment: { filename: string; content: string };
  dashboardUrl?: string;
}

export interface ReportEmail {
  subject: string;
  text: string;
  attachments: { filename: string; content: string; contentType: string }[];
}

const indexRow = (name: string, s: IndexSummary) => [
  name,
  String(s.lines),
  String(s.outages),
  fixed(s.outageMinutes, 0),
  fixed(s.saifi, 3),
  fixed(s.saidiMinutes, 1),
  fixed(s.caidiMinutes, 1),
  fixed(s.maifi, 3),
  fixed(s.asaiPercent, 4),
];
const INDEX_HEADER = ['', 'lines', 'outages', 'outage min', 'SAIFI', 'SAIDI min', 'CAIDI min', 'MAIFI', 'ASAI %'];
const RIGHT = [false, true, true, true, true, true, true, true, true];

export function composeReportEmail(r: ReportEmailInput): ReportEmail {
  const s = r.summary;
  // Names are operators' free text: one line, whatever they contain.
  const subject = `SPMS reliability report, ${r.periodLabel}: ${r.scopeLabel}`.replace(/[\r\n\t]+/g, ' ');
  const out = [
    `Reliability of ${r.scopeLabel}, ${r.periodLabel}`,
    `(${localDateTime(r.from, r.timeZone)} to ${localDateTime(r.to, r.timeZone)}, local time ${r.timeZone})`,
    '',
    `SAIFI ${fixed(s.saifi, 3)}   SAIDI ${fixed(s.saidiMinutes, 1)} min   CAIDI ${fixed(s.caidiMinutes, 1)} min   ` +
      `MAIFI ${fixed(s.maifi, 3)}   ASAI ${fixed(s.asaiPercent, 4)} %`,
    `${s.outages} outage${s.outages === 1 ? '' : 's'} (${s.sustained} sustained, ${s.momentary} momentary), ${fixed(s.outageMinutes, 0)} line-minutes ` +
      `without power, ${s.lines} monitored lines.`,
  ];
  if (r.groups.length > 0) {
    out.push('', `By ${r.groupLabel.toLowerCase()}:`, '');
    out.push(
      textTable(
        [r.groupLabel, ...INDEX_HEADER.slice(1)],
        r.groups.map((g) => indexRow(g.name, g)),
        RIGHT,
      ),
    );
  }
  out.push('', `Worst sites by outage minutes:`, '');
  if (r.worst.length === 0) out.push('(no outages in the period)');
  else
    out.push(
      textTable(
        ['#', 'site', 'region', 'outage min', 'outages'],
        r.worst.map((w, i) => [String(i + 1), w.site, w.region ?? '', fixed(w.outageMinutes, 0), String(w.outages)]),
        [true, false, false, true, true],
      ),
    );
  out.push(
    '',
    `Attached: ${r.attachment.filename}, every site's figures (the API's reliability CSV, by device).`,
    'SAIFI/MAIFI: sustained/momentary interruptions per monitored line; SAIDI: outage minutes per line;',
    'CAIDI = SAIDI / SAIFI; ASAI: share of known line-time with power. Planned outages are not counted.',
  );
  if (r.dashboardUrl) out.push(`Dashboard: ${r.dashboardUrl}`);
  return {
    subject,
    text: out.join('\n'),
    attachments: [
      { filename: r.attachment.filename, content: r.attachment.content, contentType: 'text/csv; charset=utf-8' },
    ],
  };
}
