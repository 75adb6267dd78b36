/**
 * Report periods on the local calendar (SPMS_TIME_ZONE): a month runs from local midnight on
 * the 1st, a week from local midnight on Monday. A period is identified by a key that is the
 * same in every process ('monthly:2026-11', 'weekly:2026-11-23' — the week's Monday), which
 * is what lets report_deliveries' primary key make a report go out once.
 */
import { localDay, localDayStart } from '@spms/reliability';

export type ReportPeriodKind = 'monthly' | 'weekly';

export interface ReportPeriod {
  kind: ReportPeriodKind;
  key: string;
  /** 'November 2026', 'week of Mon 23 Nov 2026' */
  label: string;
  /** Local midnight starting the period (epoch ms). */
  from: number;
  /** Local midnight ending it (exclusive). */
  to: number;
  /** First and last local day ('YYYY-MM-DD'), for file names. */
  firstDay: string;
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const MONTH_NAMES = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
];

function parts(day: string): [number, number, number] {
  const [y, m, d] = day.split('-').map(Number);
  return [y as number, m as number, d as number];
}

/** Calendar arithmetic on 'YYYY-MM-DD' (zone-independent). */
export function addDays(day: string, n: number): string {
  const [y, m, d] = parts(day);
  const t = new Date(Date.UTC(y, m - 1, d + n));
  return `${pad(t.getUTCFullYear(), 4)}-${pad(t.getUTCMonth() + 1)}-${pad(t.getUTCDate())}`;
}

/** The last period of this kind that has ended at `now` (local calendar of `timeZone`). */
export function lastCompletePeriod(kind: ReportPeriodKind, now: number, timeZone: string): ReportPeriod {
  const today = localDay(now, timeZone);
  const [y, m] = parts(today);
  if (kind === 'monthly') {
    const [py, pm] = m === 1 ? [y - 1, 12] : [y, m - 1];
    const firstDay = `${pad(py, 4)}-${pad(pm)}-01`;
    return {
      kind,
      key: `monthly:${pad(py, 4)}-${pad(pm)}`,
      label: `${MONTH_NAMES[pm - 1]} ${py}`,
      from: localDayStart(firstDay, timeZone),
      to: localDayStart(`${pad(y, 4)}-${pad(m)}-01`, timeZone),
      firstDay,
    };
  }
  const [ty, tm, td] = parts(today);
  const dow = new Date(Date.UTC(ty, tm - 1, td)).getUTCDay(); // 0 = Sunday
  const thisMonday = addDays(today, -((dow + 6) % 7));
  const firstDay = addDays(thisMonday, -7);
  const [fy, fm, fd] = parts(firstDay);
  return {
    kind,
    key: `weekly:${firstDay}`,
    label: `week of Mon ${fd} ${MONTHS[fm - 1]} ${fy}`,
    from: localDayStart(firstDay, timeZone),
    to: localDayStart(thisMonday, timeZone),
    firstDay,
  };
}

/**
 * The periods a subscription is owed at `now`: the last complete month and/or week, if it
 * ended after the subscription was created (a new subscription waits for the next boundary;
 * a period missed while no scheduler ran is still owed, once).
 */
export function duePeriods(
  sub: { monthly: boolean; weekly: boolean; createdAt: number },
  now: number,
  timeZone: string,
): ReportPeriod[] {
  const kinds: ReportPeriodKind[] = [];
  if (sub.monthly) kinds.push('monthly');
  if (sub.weekly) kinds.push('weekly');
  return kinds.map((k) => lastCompletePeriod(k, now, timeZone)).filter((p) => p.to > sub.createdAt);
}
