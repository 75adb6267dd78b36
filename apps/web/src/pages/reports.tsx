/** Reports: IEEE 1366 reliability indices per region over a chosen period, charts, CSV. */
import { useEffect, useState } from 'preact/hooks';
import { downloadCsv, NotAvailable, type Reliability, reliability } from '../api/client.js';
import { fromZoneInput, toZoneInput } from '../format.js';

type Row = Reliability['fleet'];
type Metric = (typeof INDICES)[number][0];
const DAY = 24 * 3600_000;
const INDICES = [
  ['saifi', 'SAIFI', 'interruptions per line'],
  ['saidi', 'SAIDI', 'minutes per line'],
  ['caidi', 'CAIDI', 'minutes per interruption'],
  ['asai', 'ASAI', 'availability'],
  ['maifi', 'MAIFI', 'momentary per line'],
] as const;

/** Where each index stands in a group's `main.indices` (SAIDI/CAIDI in minutes, ASAI in per cent). */
const FIELD = {
  saifi: 'saifi',
  saidi: 'saidiMinutes',
  caidi: 'caidiMinutes',
  asai: 'asaiPercent',
  maifi: 'maifi',
} as const satisfies Record<Metric, keyof Row['main']['indices']>;
const val = (r: Row, k: Metric): number | null => r.main.indices[FIELD[k]];
const fmt = (k: Metric, v: number | null) =>
  v == null ? '—' : k === 'asai' ? `${v.toFixed(4)} %` : v.toFixed(k === 'saifi' || k === 'maifi' ? 3 : 1);

export function ReportsPage() {
  // Instants, not input strings: the inputs show minutes, but the default end is exactly now.
  const [period, setPeriod] = useState(() => ({ from: Date.now() - 30 * DAY, to: Date.now() }));
  const [rows, setRows] = useState<Row[]>([]);
  const [fleet, setFleet] = useState<Row | null>(null);
  const [msg, setMsg] = useState<string | null>(null);
  const [metric, setMetric] = useState<Metric>('saidi');

  const q = () => ({
    groupBy: 'region',
    from: new Date(period.from).toISOString(),
    to: new Date(period.to).toISOString(),
  });

  useEffect(() => {
    let stale = false;
    reliability(q()).then(
      (body) => {
        if (stale) return;
        setRows(body.groups);
        setFleet(body.fleet);
        setMsg(null);
      },
      (err: Error) =>
        !stale &&
        setMsg(err instanceof NotAvailable ? 'Reliability reports are not available from this API yet.' : err.message),
    );
    return () => {
      stale = true;
    };
  }, [period]);

  const name = (r: Row) => r.name || r.key || '(no region)';
  const max = Math.max(0, ...rows.map((r) => val(r, metric) ?? 0)) || 1;

  return (
    <div>
      <h1>Reliability by region</h1>
      <form class="filters card" onSubmit={(e) => e.preventDefault()}>
        <label>
          From{' '}
          <input
            type="datetime-local"
            value={toZoneInput(period.from)}
            onChange={(e) => setPeriod({ ...period, from: fromZoneInput((e.target as HTMLInputElement).value) })}
          />
        </label>
        <label>
          To{' '}
          <input
            type="datetime-local"
            value={toZoneInput(period.to)}
            onChange={(e) => setPeriod({ ...period, to: fromZoneInput((e.target as HTMLInputElement).value) })}
          />
        </label>
        <button
          type="button"
          data-testid="reports-csv"
          onClick={() =>
            downloadCsv('/api/reports/reliability', q(), 'reliability.csv').catch((e: Error) => setMsg(e.message))
          }
        >
          ⬇ Export CSV
        </button>
      </form>
      {msg && <p class="notice">{msg}</p>}
      {rows.length > 0 && (
        <section class="card" aria-label="Chart">
          <div class="toolbar">
            {INDICES.map(([k, label]) => (
              <button
                key={k}
                type="button"
                class={`ghost small ${metric === k ? 'active' : ''}`}
                onClick={() => setMetric(k)}
                aria-pressed={metric === k}
              >
                {label}
              </button>
            ))}
          </div>
          <div class="bars" data-testid="reliability-chart">
            {rows.map((r) => {
              const v = val(r, metric);
              return (
                <div key={name(r)} class="bar-row">
                  <span class="bar-label">{name(r)}</span>
                  <span class="bar" style={{ width: `${((v ?? 0) / max) * 100}%` }} />
                  <span class="bar-value">{fmt(metric, v)}</span>
                </div>
              );
            })}
          </div>
        </section>
      )}
      <table data-testid="reliability-table">
        <thead>
          <tr>
            <th>Region</th>
            <th class="num">Lines (N_T)</th>
            {INDICES.map(([k, label, unit]) => (
              <th key={k} title={unit} class="num">
                {label}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={name(r)}>
              <td>{name(r)}</td>
              <td class="num">{r.lines}</td>
              {INDICES.map(([k]) => (
                <td key={k} class="num">
                  {fmt(k, val(r, k))}
                </td>
              ))}
            </tr>
          ))}
          {fleet && (
            <tr class="total">
              <td>
                <b>Whole fleet</b>
              </td>
              <td class="num">{fleet.lines}</td>
              {INDICES.map(([k]) => (
                <td key={k} class="num">
                  <b>{fmt(k, val(fleet, k))}</b>
                </td>
              ))}
            </tr>
          )}
        </tbody>
      </table>
      <p class="muted small">
        IEEE 1366 with each monitored line as a customer; offline (unknown) time is excluded from durations and
        denominators; times in the fleet's zone.
      </p>
    </div>
  );
}
