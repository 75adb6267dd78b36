/** Fleet: counters, the map, and a searchable, sortable device table — all live. */
import { useMemo, useState } from 'preact/hooks';
import type { DeviceStatus } from '../api/normalize.js';
import { FleetMap } from '../components/fleet-map.js';
import { fmtAgo, fmtVolt, HEALTH } from '../format.js';
import { useFleet } from '../live.js';

type SortKey = 'name' | 'region' | 'health' | 'linesDown' | 'lastActivityAt' | 'voltage';
const HEALTH_ORDER = { partial: 0, offline: 1, unknown: 2, ok: 3 };
const PAGE = 200;

const COLUMNS: [SortKey, string][] = [
  ['name', 'MSAN code'],
  ['region', 'Region'],
  ['health', 'State'],
  ['linesDown', 'Lines down'],
  ['lastActivityAt', 'Last seen'],
  ['voltage', 'Voltage'],
];

function compare(key: SortKey): (a: DeviceStatus, b: DeviceStatus) => number {
  if (key === 'health') return (a, b) => HEALTH_ORDER[a.health] - HEALTH_ORDER[b.health];
  return (a, b) => {
    const x = a[key];
    const y = b[key];
    if (x == null) return y == null ? 0 : 1;
    if (y == null) return -1;
    return typeof x === 'string'
      ? x.localeCompare(String(y), undefined, { numeric: true })
      : (x as number) - (y as number);
  };
}

export function FleetPage() {
  const { status, error, updatedAt } = useFleet();
  const [search, setSearch] = useState('');
  const [sort, setSort] = useState<{ key: SortKey; desc: boolean }>({ key: 'health', desc: false });
  const [limit, setLimit] = useState(PAGE);
  const devices = status?.devices ?? [];

  const rows = useMemo(() => {
    const q = search.trim().toLowerCase();
    const hit = q
      ? devices.filter((d) => `${d.name} ${d.label ?? ''} ${d.region ?? ''}`.toLowerCase().includes(q))
      : devices.slice();
    const cmp = compare(sort.key);
    hit.sort(
      (a, b) => (sort.desc ? -cmp(a, b) : cmp(a, b)) || a.name.localeCompare(b.name, undefined, { numeric: true }),
    );
    return hit;
  }, [devices, search, sort]);

  const c = status?.counters;
  return (
    <div class="fleet">
      <section class="counters" aria-label="Fleet counters">
        <Counter label="Devices active" value={c?.devicesActive} testid="count-active" />
        <Counter label="Devices inactive" value={c?.devicesInactive} testid="count-inactive" bad />
        <Counter label="Lines without power" value={c?.linesWithoutPower} testid="count-lines-down" bad />
        <Counter label="Open outages" value={c?.openOutages} testid="count-outages" bad />
      </section>
      {error && <p class="error">Could not load the fleet: {error}</p>}
      {status && !status.live && (
        <p class="notice">
          Live device state is not available from this API yet (no /api/status): showing the registry only.
        </p>
      )}
      <div class="fleet-grid">
        <FleetMap devices={devices} />
        <section class="table-wrap" aria-label="Devices">
          <div class="toolbar">
            <input
              type="search"
              placeholder="Search MSAN code, label, region…"
              value={search}
              onInput={(e) => setSearch((e.target as HTMLInputElement).value)}
              aria-label="Search devices"
            />
            <span class="muted">
              {rows.length} of {devices.length}
              {updatedAt ? ` · updated ${fmtAgo(updatedAt)}` : ''}
            </span>
          </div>
          <table class="devices" data-testid="device-table">
            <thead>
              <tr>
                {COLUMNS.map(([key, text]) => (
                  <th key={key} aria-sort={sort.key === key ? (sort.desc ? 'descending' : 'ascending') : 'none'}>
                    <button
                      type="button"
                      class="sort"
                      onClick={() => setSort({ key, desc: sort.key === key ? !sort.desc : false })}
                    >
                      {text} {sort.key === key ? (sort.desc ? '▼' : '▲') : ''}
                    </button>
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {rows.slice(0, limit).map((d) => (
                <tr key={d.id} data-device={d.name} data-health={d.health}>
                  <td>
                    <a href={`/devices/${encodeURIComponent(d.name)}`}>{d.name}</a>
                    {d.label && <div class="muted small">{d.label}</div>}
                  </td>
                  <td>{d.region ?? '—'}</td>
                  <td>
                    <span class={`badge ${HEALTH[d.health].cls}`}>
                      {HEALTH[d.health].icon} {HEALTH[d.health].text}
                    </span>
                    {d.connectionLost && d.active !== false && <span class="muted small"> link lost</span>}
                  </td>
                  <td class="num" data-testid="lines-down">
                    {d.linesDown
                      ? d.lines
                          .filter((l) => l.state === 'down')
                          .map((l) => l.label)
                          .join(', ')
                      : '0'}
                  </td>
                  <td>{fmtAgo(d.lastActivityAt)}</td>
                  <td class="num">{fmtVolt(d.voltage)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {rows.length > limit && (
            <button type="button" class="ghost" onClick={() => setLimit(limit + PAGE)}>
              Show {Math.min(PAGE, rows.length - limit)} more
            </button>
          )}
        </section>
      </div>
    </div>
  );
}

function Counter(p: { label: string; value: number | undefined; testid: string; bad?: boolean }) {
  return (
    <div class={`counter ${p.bad && p.value ? 'bad' : ''}`} data-testid={p.testid}>
      <span class="value">{p.value ?? '…'}</span>
      <span class="label">
        {p.bad && p.value ? '⚠ ' : ''}
        {p.label}
      </span>
    </div>
  );
}
