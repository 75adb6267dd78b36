/** Outages: filterable list with cursor paging and CSV export of the same filter. */
import { useEffect, useRef, useState } from 'preact/hooks';
import { downloadCsv, NotAvailable, type OutageRow, outages, type Query } from '../api/client.js';
import { toMs } from '../api/normalize.js';
import { fmtDuration, fmtTime, fromZoneInput, toZoneInput } from '../format.js';
import { useLiveEvents } from '../live.js';

const DAY = 24 * 3600_000;

export function OutagesPage() {
  const [filter, setFilter] = useState({
    region: '',
    device: '',
    line: '',
    open: '',
    class: '',
    from: toZoneInput(Date.now() - 7 * DAY),
    to: '',
  });
  const [rows, setRows] = useState<OutageRow[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [msg, setMsg] = useState<string | null>(null);
  const [reload, setReload] = useState(0);
  const last = useRef(0);

  const query = (): Query => ({
    region: filter.region,
    device: filter.device,
    line: filter.line,
    status: filter.open,
    class: filter.class,
    from: filter.from ? new Date(fromZoneInput(filter.from)).toISOString() : undefined,
    to: filter.to ? new Date(fromZoneInput(filter.to)).toISOString() : undefined,
    limit: 100,
  });

  useEffect(() => {
    let stale = false;
    outages(query()).then(
      (p) => {
        if (stale) return;
        setRows(p.items);
        setCursor(p.nextCursor);
        setMsg(null);
      },
      (err: Error) =>
        !stale &&
        setMsg(err instanceof NotAvailable ? 'The outage list is not available from this API yet.' : err.message),
    );
    return () => {
      stale = true;
    };
  }, [filter, reload]);

  // Outage events re-read the first page, at most once a second.
  useLiveEvents((e) => {
    if (!e.type.startsWith('outage') && e.type !== 'poll') return;
    if (Date.now() - last.current < 1000) return;
    last.current = Date.now();
    setReload((n) => n + 1);
  });

  const more = async () => {
    if (!cursor) return;
    const p = await outages({ ...query(), cursor });
    setRows([...rows, ...p.items]);
    setCursor(p.nextCursor);
  };

  const set = (k: keyof typeof filter) => (e: Event) =>
    setFilter({ ...filter, [k]: (e.target as HTMLInputElement).value });

  return (
    <div>
      <h1>Outages</h1>
      <form class="filters card" onSubmit={(e) => e.preventDefault()} aria-label="Filter outages">
        <label>
          Region <input value={filter.region} onChange={set('region')} />
        </label>
        <label>
          Device <input value={filter.device} onChange={set('device')} placeholder="MSAN code" />
        </label>
        <label>
          Line
          <select value={filter.line} onChange={set('line')}>
            <option value="">all</option>
            {[1, 2, 3, 4, 5, 6, 7, 8].map((n) => (
              <option key={n}>{n}</option>
            ))}
          </select>
        </label>
        <label>
          Status
          <select value={filter.open} onChange={set('open')}>
            <option value="">open and closed</option>
            <option value="open">open only</option>
            <option value="closed">closed only</option>
          </select>
        </label>
        <label>
          Class
          <select value={filter.class} onChange={set('class')}>
            <option value="">all</option>
            <option value="sustained">sustained</option>
            <option value="momentary">momentary</option>
            <option value="pending">pending (still short)</option>
          </select>
        </label>
        <label>
          From <input type="datetime-local" value={filter.from} onChange={set('from')} />
        </label>
        <label>
          To <input type="datetime-local" value={filter.to} onChange={set('to')} />
        </label>
        <button
          type="button"
          data-testid="outages-csv"
          onClick={() =>
            downloadCsv('/api/outages', { ...query(), limit: undefined }, 'outages.csv').catch((err: Error) =>
              setMsg(`CSV export failed: ${err.message}`),
            )
          }
        >
          ⬇ Export CSV
        </button>
      </form>
      {msg && <p class="notice">{msg}</p>}
      <div class="table-wrap">
        <table data-testid="outage-table">
          <thead>
            <tr>
              <th>Device</th>
              <th>Region</th>
              <th>Line</th>
              <th>Started</th>
              <th>Ended</th>
              <th>Duration</th>
              <th>Unknown</th>
              <th>Class</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => {
              const start = toMs(r.startedAt);
              const end = toMs(r.endedAt);
              const dur = r.durationMs ?? (start && end ? end - start : null);
              const name = r.device.name;
              return (
                <tr key={r.id}>
                  <td>
                    <a href={`/devices/${encodeURIComponent(name)}`}>{name}</a>
                  </td>
                  <td>{r.region ?? '—'}</td>
                  <td>
                    {r.line} {r.lineLabel ?? ''}
                  </td>
                  <td>{fmtTime(start)}</td>
                  <td>{end ? fmtTime(end) : <span class="badge down">▲ open</span>}</td>
                  <td class="num">
                    {end ? fmtDuration(dur) : `${fmtDuration(Date.now() - (start ?? Date.now()))} so far`}
                  </td>
                  <td class="num">{fmtDuration(r.unknownMs)}</td>
                  <td>
                    {r.class}
                    {r.source === 'import' && (
                      <>
                        {' '}
                        <span class="badge offline" title="from imported history: no alert was raised for it">
                          imported
                        </span>
                      </>
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
        {!rows.length && !msg && <p class="muted">No outages match.</p>}
        {cursor && (
          <button type="button" class="ghost" onClick={more}>
            Load more
          </button>
        )}
      </div>
    </div>
  );
}
